# Installation: headers, libwick.so / libwick.a, the `wick` program, a CMake
# package (find_package(wick) -> wick::wick, wick::wick_static) and wick.pc.
#
# Every destination is relative to the prefix, so `cmake --install build
# --prefix /some/dir` relocates everything, including the package files.

include(CMakePackageConfigHelpers)

# include/wick/version.h is a plain header; keep it in step with project().
file(STRINGS ${PROJECT_SOURCE_DIR}/include/wick/version.h _wick_version_line
     REGEX "^#define WICK_VERSION_STRING ")
string(REGEX MATCH "\"([^\"]*)\"" _ "${_wick_version_line}")
if(NOT CMAKE_MATCH_1 STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "include/wick/version.h says ${CMAKE_MATCH_1} but CMakeLists.txt says "
                      "${PROJECT_VERSION}; update one of them")
endif()

set(WICK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/wick)
# Where the generated package files are staged before installation.
set(WICK_PACKAGE_BUILD_DIR ${PROJECT_BINARY_DIR}/package)

# Consumers see the shared library as wick::wick.
set_target_properties(wick_shared PROPERTIES EXPORT_NAME wick)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/wick
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

install(TARGETS wick_shared wick_static
        EXPORT wickTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

if(TARGET wick)
  install(TARGETS wick RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT wickTargets
        NAMESPACE wick::
        FILE wickTargets.cmake
        DESTINATION ${WICK_CMAKE_DIR})

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/wickConfig.cmake.in
  ${WICK_PACKAGE_BUILD_DIR}/wickConfig.cmake
  INSTALL_DESTINATION ${WICK_CMAKE_DIR})
# Before 1.0 a minor release may break the API.
write_basic_package_version_file(
  ${WICK_PACKAGE_BUILD_DIR}/wickConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES ${WICK_PACKAGE_BUILD_DIR}/wickConfig.cmake
              ${WICK_PACKAGE_BUILD_DIR}/wickConfigVersion.cmake
        DESTINATION ${WICK_CMAKE_DIR})

# ---- pkg-config ------------------------------------------------------------
# prefix is found from the .pc file's own location, so the file stays right
# when the install is relocated with --prefix or DESTDIR.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(WICK_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(WICK_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _wick_pc_up /x/${CMAKE_INSTALL_LIBDIR}/pkgconfig /x)
  string(REGEX REPLACE "/$" "" _wick_pc_up "${_wick_pc_up}")
  set(WICK_PC_PREFIX "\${pcfiledir}/${_wick_pc_up}")
  set(WICK_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(WICK_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(WICK_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# What linking libwick.a needs besides itself: threads, zlib, libjpeg, libpng
# and dlopen (OpenBLAS is opened at run time, not linked).
set(_wick_private_libs -pthread -ljpeg -lpng -lz -lm -ldl)
string(JOIN " " WICK_PC_LIBS_PRIVATE ${_wick_private_libs})
configure_file(${CMAKE_CURRENT_LIST_DIR}/wick.pc.in ${WICK_PACKAGE_BUILD_DIR}/wick.pc @ONLY)
install(FILES ${WICK_PACKAGE_BUILD_DIR}/wick.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
