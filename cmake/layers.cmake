# The library's layers, one object library each, built in dependency order:
#
#   core   the tensor handle, storage, dtypes, values, errors, threads
#   ops    CPU kernels, autograd and the differentiable tensor API (torch.*)
#   io     checkpoint files                       (core, ops)
#   nn     torch.nn.functional, modules           (core, ops)
#   optim  optimizers and LR schedulers           (core, ops)
#   data   datasets and loading                   (core, ops)
#   models torchvision's classification models    (core, ops, nn)
#
# The build keeps the direction (docs/architecture.md):
#
# - Includes: a layer compiles against a tree of its own under
#   build/layers/<layer>/ holding symbolic links to its public headers
#   (include/wick/<dir>) and private headers (src/<dir>) only. A layer sees its
#   own tree and those of the layers it depends on, so including a header of a
#   layer above fails with "No such file or directory".
# - Calls: each layer and everything below it is linked once more into a
#   shared library with -Wl,--no-undefined (wick_layer_<layer>, not
#   installed), so calling a function that a layer above defines fails with
#   "undefined reference". Sanitizer and fuzzing builds skip this link (their
#   runtimes are not linked into shared libraries); the Release build keeps it.
#
# libwick.so and libwick.a are built from all the layers' objects together.

set(WICK_LAYERS core ops io nn optim data models)
set(WICK_LAYER_core_DIRS core)
set(WICK_LAYER_ops_DIRS kernels autograd ops)
set(WICK_LAYER_io_DIRS io)
set(WICK_LAYER_nn_DIRS nn)
set(WICK_LAYER_optim_DIRS optim)
set(WICK_LAYER_data_DIRS data)
set(WICK_LAYER_models_DIRS models)
set(WICK_LAYER_core_DEPS)
set(WICK_LAYER_ops_DEPS core)
set(WICK_LAYER_io_DEPS core ops)
set(WICK_LAYER_nn_DEPS core ops)
set(WICK_LAYER_optim_DEPS core ops)
set(WICK_LAYER_data_DEPS core ops)
set(WICK_LAYER_models_DEPS core ops nn)

# wick_layer_include_tree(<layer>): build/layers/<layer>/ with links to the
# layer's header directories.
function(wick_layer_include_tree layer)
  set(root ${PROJECT_BINARY_DIR}/layers/${layer})
  file(MAKE_DIRECTORY ${root}/wick)
  foreach(dir IN LISTS WICK_LAYER_${layer}_DIRS)
    foreach(pair "include/wick/${dir}:wick/${dir}" "src/${dir}:${dir}")
      string(REPLACE ":" ";" pair "${pair}")
      list(GET pair 0 from)
      list(GET pair 1 to)
      if(EXISTS ${PROJECT_SOURCE_DIR}/${from})
        file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${from} ${root}/${to} SYMBOLIC)
      endif()
    endforeach()
  endforeach()
  if(layer STREQUAL "core")
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/wick/version.h ${root}/wick/version.h SYMBOLIC)
  endif()
endfunction()

find_package(Threads REQUIRED)
# Image decoding in the data layer (src/data/image.cpp): libjpeg-turbo and libpng.
find_package(JPEG REQUIRED)
find_package(PNG REQUIRED)
set(WICK_PRIVATE_LIBS Threads::Threads ZLIB::ZLIB JPEG::JPEG PNG::PNG ${CMAKE_DL_LIBS})
set(WICK_ALL_OBJECTS)

foreach(layer IN LISTS WICK_LAYERS)
  wick_layer_include_tree(${layer})
  set(sources)
  foreach(dir IN LISTS WICK_LAYER_${layer}_DIRS)
    file(GLOB_RECURSE dir_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${dir}/*.cpp)
    list(APPEND sources ${dir_sources})
  endforeach()
  set(target wick_${layer})
  add_library(${target} OBJECT ${sources})
  target_include_directories(${target} PUBLIC ${PROJECT_BINARY_DIR}/layers/${layer})
  foreach(dep IN LISTS WICK_LAYER_${layer}_DEPS)
    target_link_libraries(${target} PUBLIC wick_${dep})
  endforeach()
  target_link_libraries(${target} PRIVATE Threads::Threads ZLIB::ZLIB
                                          nlohmann_json::nlohmann_json)
  if(layer STREQUAL "data")
    target_link_libraries(${target} PRIVATE JPEG::JPEG PNG::PNG)
  endif()
  # `#pragma omp simd` needs no runtime; threads are wick's own pool.
  target_compile_options(${target} PRIVATE -fopenmp-simd)
  if(WICK_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
  list(APPEND WICK_ALL_OBJECTS $<TARGET_OBJECTS:${target}>)

  # The link that refuses calls into layers above.
  if(NOT WICK_SANITIZE AND NOT WICK_FUZZ)
    set(objects $<TARGET_OBJECTS:${target}>)
    foreach(dep IN LISTS WICK_LAYER_${layer}_DEPS)
      list(APPEND objects $<TARGET_OBJECTS:wick_${dep}>)
    endforeach()
    add_library(wick_layer_${layer} SHARED ${objects})
    target_link_libraries(wick_layer_${layer} PRIVATE ${WICK_PRIVATE_LIBS})
    target_link_options(wick_layer_${layer} PRIVATE -Wl,--no-undefined)
    set_target_properties(wick_layer_${layer} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/layers/lib)
  endif()
endforeach()

# OpenBLAS: only its cblas.h at build time; src/kernels/blas.cpp opens the
# library on the first matrix product (see there why), so nothing links it.
target_include_directories(wick_ops SYSTEM PRIVATE ${OPENBLAS_INCLUDE_DIRS})
