# ctest's check of cpp/variant/ without the renderer:
#   cmake -DSOURCE_DIR=<repo> -DCOMPILER=g++ -P check_variant_fragments.cmake
# fails when a fragment is included by no pass of variant_fragments_check.cpp,
# then compiles that file with -fsyntax-only (templates instantiated, warnings
# as errors) once per VARIANT_CHECK pass. Unused names are allowed: the check
# stands an empty macro in for each block the renderer inserts, and the names
# that block would use are then unused.
foreach(required SOURCE_DIR COMPILER)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "check_variant_fragments.cmake: pass -D${required}=...")
  endif()
endforeach()
set(check ${SOURCE_DIR}/cpp/tests/variant_fragments_check.cpp)
file(READ ${check} check_text)
file(GLOB fragments RELATIVE ${SOURCE_DIR}/cpp/variant ${SOURCE_DIR}/cpp/variant/*.h ${SOURCE_DIR}/cpp/variant/*.inc)
foreach(fragment IN LISTS fragments)
  string(FIND "${check_text}" "#include \"${fragment}\"" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "cpp/variant/${fragment} is checked by no pass: include it in ${check}")
  endif()
endforeach()
foreach(pass 1 2 3)
  execute_process(
    COMMAND ${COMPILER} -std=c++17 -fsyntax-only -march=native -Wall -Wextra -Werror -Wno-unused-parameter
            -Wno-unused-variable -Wno-unused-but-set-variable -Wno-unused-function -I${SOURCE_DIR}/cpp/include
            -I${SOURCE_DIR}/cpp/variant -DVARIANT_CHECK=${pass} ${check}
    RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "cpp/variant/ does not compile in pass VARIANT_CHECK=${pass}; the compiler's output is above")
  endif()
endforeach()
list(LENGTH fragments count)
message(STATUS "${count} fragments of cpp/variant/ compile")
