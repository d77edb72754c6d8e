# Third-party dependencies other than LibTorch. On Debian they come from apt (scripts/setup.sh); on a
# machine with only a CUDA torch and no network they come from the offline bundle
# (scripts/offline_bundle.sh, then scripts/gpu_check.sh passes its prefixes in CMAKE_PREFIX_PATH).
# So nothing here needs pkg-config: each library is found by header and library name under the
# prefixes and the system paths, and becomes one imported target.

# pgolf_find_library(TARGET HEADER LIBNAME...): an imported target for a C/C++ library found by one
# header and the first of LIBNAMEs; a clear error names what is missing and where it looked.
function(pgolf_find_library target header)
  string(MAKE_C_IDENTIFIER "${target}" id)
  find_path(${id}_INCLUDE_DIR ${header})
  find_library(${id}_LIBRARY NAMES ${ARGN})
  if(NOT ${id}_INCLUDE_DIR OR NOT ${id}_LIBRARY)
    message(FATAL_ERROR "pgolf: ${target} not found (header ${header}: '${${id}_INCLUDE_DIR}', "
            "library ${ARGN}: '${${id}_LIBRARY}'). Install it (scripts/setup.sh) or add the "
            "offline bundle's prefixes to CMAKE_PREFIX_PATH (scripts/gpu_check.sh does).")
  endif()
  add_library(${target} UNKNOWN IMPORTED)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${${id}_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${${id}_INCLUDE_DIR}")
  message(STATUS "pgolf: ${target}: ${${id}_LIBRARY}")
endfunction()

pgolf_find_library(pgolf::sentencepiece sentencepiece_processor.h sentencepiece)
pgolf_find_library(pgolf::sentencepiece_train sentencepiece_trainer.h sentencepiece_train)
pgolf_find_library(pgolf::zstd zstd.h zstd)
# The frontier compressors (COMPRESSOR=brotli|lzma|pergroup): Debian's libbrotli and liblzma.
pgolf_find_library(pgolf::brotlienc brotli/encode.h brotlienc)
pgolf_find_library(pgolf::brotlidec brotli/decode.h brotlidec)
pgolf_find_library(pgolf::lzma lzma.h lzma)
# Linked explicitly: the static brotli libraries of the offline bundle do not pull it in.
pgolf_find_library(pgolf::brotlicommon brotli/types.h brotlicommon)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)  # the zlib artifact codec (COMPRESSOR=zlib)
# torch's c10d/ProcessGroupGloo.hpp includes Gloo's headers, which the torch wheel does not ship.
find_path(PGOLF_GLOO_INCLUDE_DIR gloo/config.h)
if(NOT PGOLF_GLOO_INCLUDE_DIR)
  message(FATAL_ERROR "pgolf: Gloo headers (gloo/config.h) not found: install libgloo-dev "
          "(scripts/setup.sh) or add the offline bundle's prefix to CMAKE_PREFIX_PATH")
endif()
