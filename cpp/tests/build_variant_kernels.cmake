# ctest's build of the variant kernels scripts/render-kernels.mjs rendered:
#   cmake -DKERNEL_DIR=<dir> -DCOMPILER=g++ -DINCLUDE_DIR=<cpp/include> -P build_variant_kernels.cmake
# compiles <dir>/<name>.cpp to <dir>/<name>.so for every name in kernels.txt,
# with the flags in flags.txt: the compile gate's hardened flags and this
# host's -march, as the gauntlet builds a candidate (unconfined: these are
# the project's own renderings).
foreach(required KERNEL_DIR COMPILER INCLUDE_DIR)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "build_variant_kernels.cmake: pass -D${required}=...")
  endif()
endforeach()
file(STRINGS ${KERNEL_DIR}/flags.txt flags)
file(STRINGS ${KERNEL_DIR}/kernels.txt names)
if(NOT names)
  message(FATAL_ERROR "${KERNEL_DIR}/kernels.txt lists no kernels")
endif()
foreach(name IN LISTS names)
  execute_process(
    COMMAND ${COMPILER} ${flags} -I${INCLUDE_DIR} -o ${KERNEL_DIR}/${name}.so ${KERNEL_DIR}/${name}.cpp
    RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${name}.cpp did not compile with the hardened flags (${status}); the compiler's output is above")
  endif()
  message(STATUS "built ${name}.so")
endforeach()
