# cmake -DPROGRAM=... -DMANIFEST=... -P check_recipe.cmake
# Runs PROGRAM and compares its standard output with the manifest's
# recipe_output, byte for byte, after reading `wick.Size(` as `torch.Size(`.
file(READ ${MANIFEST} manifest)
string(JSON expected GET "${manifest}" recipe_output)
execute_process(COMMAND ${PROGRAM} OUTPUT_VARIABLE actual ERROR_VARIABLE errors
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${status}: ${errors}")
endif()
string(REPLACE "wick.Size(" "torch.Size(" actual "${actual}")
if(NOT actual STREQUAL expected)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/recipe_expected.txt "${expected}")
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/recipe_actual.txt "${actual}")
  message(FATAL_ERROR "output differs from PyTorch's; compare with\n"
          "  diff ${CMAKE_CURRENT_BINARY_DIR}/recipe_expected.txt ${CMAKE_CURRENT_BINARY_DIR}/recipe_actual.txt")
endif()
message(STATUS "output equals PyTorch 2.11's (${MANIFEST})")
