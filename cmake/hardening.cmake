# Hardening builds (README "Reliability"); both are separate build folders, never the main build.
#  PGOLF_SANITIZE=address,undefined  gcc sanitizers on every pgolf target (scripts/sanitize.sh).
#  PGOLF_FUZZ=ON                     clang libFuzzer targets in tests/fuzz (scripts/fuzz.sh).
set(PGOLF_SANITIZE "" CACHE STRING "Sanitizers for every pgolf target, e.g. address,undefined")
option(PGOLF_FUZZ "Build the libFuzzer targets in tests/fuzz (clang)" OFF)
if(PGOLF_SANITIZE)
  add_compile_options(-fsanitize=${PGOLF_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${PGOLF_SANITIZE})
  if(PGOLF_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)  # a UB report fails the test
  endif()
endif()
if(PGOLF_FUZZ AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "PGOLF_FUZZ=ON needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
endif()
