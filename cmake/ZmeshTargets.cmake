# Helpers shared by every layer's CMakeLists: one way to declare a library, a tool,
# a test, and the installed CMake package.

set(ZMESH_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)
set(ZMESH_INCLUDE_TREE ${CMAKE_BINARY_DIR}/include)
set_property(GLOBAL PROPERTY ZMESH_EXPORTED_TARGETS "")

# Makes <build>/include/zmesh/<layer> point at each source layer folder.
function(zmesh_make_include_tree)
  file(MAKE_DIRECTORY ${ZMESH_INCLUDE_TREE}/zmesh)
  foreach(layer IN LISTS ARGN)
    if(NOT EXISTS ${ZMESH_INCLUDE_TREE}/zmesh/${layer})
      file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${layer} ${ZMESH_INCLUDE_TREE}/zmesh/${layer} SYMBOLIC)
    endif()
  endforeach()
endfunction()

# zmesh_library(NAME <target> SOURCES ... DEPS ...): a layer library, exported as zmesh::<suffix>.
function(zmesh_library)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_library(${ARG_NAME} ${ARG_SOURCES})
  target_compile_options(${ARG_NAME} PRIVATE ${ZMESH_WARNINGS})
  target_include_directories(${ARG_NAME} PUBLIC
    $<BUILD_INTERFACE:${ZMESH_INCLUDE_TREE}>
    $<INSTALL_INTERFACE:include>)
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS})
  string(REPLACE "zmesh_" "" export_name ${ARG_NAME})
  set_target_properties(${ARG_NAME} PROPERTIES EXPORT_NAME ${export_name})
  add_library(zmesh::${export_name} ALIAS ${ARG_NAME})
  set_property(GLOBAL APPEND PROPERTY ZMESH_EXPORTED_TARGETS ${ARG_NAME})
endfunction()

# zmesh_executable(NAME <target> SOURCES ... DEPS ...): a tool or example with our warnings.
function(zmesh_executable)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_compile_options(${ARG_NAME} PRIVATE ${ZMESH_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
endfunction()

# zmesh_test(NAME <target> SOURCES ... DEPS ... [TIMEOUT s] [LABELS ...] [PROC_MAIN]): one
# GoogleTest binary, registered test by test so ctest shows every case and applies the
# timeout. PROC_MAIN: the binary's main calls zmesh::init first, so process meshes can
# start it as their procs.
function(zmesh_test)
  cmake_parse_arguments(ARG "PROC_MAIN" "NAME;TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(ARG_PROC_MAIN)
    list(APPEND ARG_SOURCES ${CMAKE_SOURCE_DIR}/tests/testing/proc_main.cpp)
    list(APPEND ARG_DEPS zmesh_comm)
  else()
    list(APPEND ARG_DEPS GTest::gtest_main)
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_compile_options(${ARG_NAME} PRIVATE ${ZMESH_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} zmesh_testing GTest::gtest)
  gtest_discover_tests(${ARG_NAME}
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()

function(zmesh_install_package)
  include(GNUInstallDirs)
  include(CMakePackageConfigHelpers)
  get_property(targets GLOBAL PROPERTY ZMESH_EXPORTED_TARGETS)
  install(TARGETS ${targets} EXPORT zmeshTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  foreach(layer core transport alloc mesh comm)
    install(DIRECTORY ${CMAKE_SOURCE_DIR}/${layer}/ DESTINATION include/zmesh/${layer}
      FILES_MATCHING PATTERN "*.hpp")
  endforeach()
  install(EXPORT zmeshTargets NAMESPACE zmesh:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zmesh)
  configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/zmeshConfig.cmake.in
    ${CMAKE_BINARY_DIR}/zmeshConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zmesh)
  write_basic_package_version_file(${CMAKE_BINARY_DIR}/zmeshConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
  install(FILES ${CMAKE_BINARY_DIR}/zmeshConfig.cmake ${CMAKE_BINARY_DIR}/zmeshConfigVersion.cmake
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zmesh)
endfunction()
