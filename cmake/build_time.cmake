# Build time (README "Build time"). Measured on the 2-core box (user+sys CPU, gcc 12, -O2 -g): a
# translation unit that uses the torch precompiled header (0.9 GB, torch/torch.h) spends ~9-10 s before
# its first own line, an empty one included; the 11 sources of src/eval took 241 s one by one and 37 s
# as one unity TU. So:
#  * each component compiles as one unity TU (pgolf_unity, PGOLF_UNITY_BUILD=ON by default). A source
#    in PGOLF_UNITY_SKIP defines a file-local helper under the same name as another source of its
#    component (a unity TU is one scope), so it compiles alone; rename the helper and the file can
#    leave the list. A new clash shows as "redefinition of ... {anonymous}::name" in unity_0_cxx.cxx;
#    -DPGOLF_UNITY_BUILD=OFF builds file by file, as before.
#  * RelWithDebInfo carries line tables only (-g1; file:line in backtraces, gdb and perf, but no
#    local variables): -25% CPU on a source, -30% on a test. -DPGOLF_FULL_DEBUG_INFO=ON keeps -g.
#  * lld links when the compiler accepts -fuse-ld=lld: 4.6 s CPU for the pgolf binary, ld.bfd 15.5 s.
option(PGOLF_UNITY_BUILD "Compile each component's sources as one unity translation unit" ON)
set(PGOLF_UNITY_SKIP src/cli/cmd_info.cpp src/model/block_banked.cpp src/quant/gptq_mixed.cpp
    src/quant/pergroup_layout.cpp src/report/stats.cpp)

# pgolf_unity(TARGET): TARGET's sources (in this directory) as one unity TU, less PGOLF_UNITY_SKIP.
function(pgolf_unity target)
  if(NOT PGOLF_UNITY_BUILD)
    return()
  endif()
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 0)
  foreach(f IN LISTS PGOLF_UNITY_SKIP)
    set_source_files_properties(${CMAKE_SOURCE_DIR}/${f} PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  endforeach()
endfunction()

option(PGOLF_FULL_DEBUG_INFO "RelWithDebInfo with full debug info (-g), not line tables (-g1)" OFF)
if(NOT PGOLF_FULL_DEBUG_INFO)
  string(REGEX REPLACE "(^| )-g( |$)" "\\1-g1\\2" CMAKE_CXX_FLAGS_RELWITHDEBINFO
         "${CMAKE_CXX_FLAGS_RELWITHDEBINFO}")
endif()

option(PGOLF_LLD "Link with lld when the compiler accepts -fuse-ld=lld" ON)
if(PGOLF_LLD)
  include(CheckLinkerFlag)
  check_linker_flag(CXX "-fuse-ld=lld" PGOLF_HAVE_LLD)
  if(PGOLF_HAVE_LLD)
    add_link_options(-fuse-ld=lld)
  endif()
endif()
