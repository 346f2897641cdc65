# Helpers shared by every layer's CMakeLists: one way to declare a library, a tool,
# a test, and the installed CMake package.
#
# Headers are included as "zmesh/<layer>/x.hpp", in the tree as when installed. Each layer
# library sees only its own include tree, <build>/include-<name>/zmesh/<layer>, and those of
# the libraries it links, so a header of a higher layer is not found (a wrong-direction
# include fails to build). Layers, lowest first: core, transport, alloc, geometry, mesh,
# routing, comm, tools (geometry and routing are the pure parts of mesh/ and comm/, and see
# only the headers listed for them). Tests, benchmarks, examples and fuzzers see the whole
# tree, <build>/include.

set(ZMESH_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)
set(ZMESH_INCLUDE_TREE ${CMAKE_BINARY_DIR}/include)
set_property(GLOBAL PROPERTY ZMESH_EXPORTED_TARGETS "")
set_property(GLOBAL PROPERTY ZMESH_HEADER_CHECKS "")
option(ZMESH_CHECK_HEADERS "Compile every public header on its own (target header_check, part of the default build)" ON)

# zmesh_make_include_tree(<dir> <layer>...): makes <dir>/zmesh/<layer> point at each layer's
# source folder.
function(zmesh_make_include_tree dir)
  file(MAKE_DIRECTORY ${dir}/zmesh)
  foreach(layer IN LISTS ARGN)
    if(NOT EXISTS ${dir}/zmesh/${layer})
      file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${layer} ${dir}/zmesh/${layer} SYMBOLIC)
    endif()
  endforeach()
endfunction()

# zmesh_make_header_tree(<dir> <layer> <header>...): <dir>/zmesh/<layer>/<header> points at
# each listed header of the layer's folder, and nothing else is there.
function(zmesh_make_header_tree dir layer)
  file(REMOVE_RECURSE ${dir})
  foreach(header IN LISTS ARGN)
    if(NOT EXISTS ${CMAKE_SOURCE_DIR}/${layer}/${header})
      message(FATAL_ERROR "${layer}/${header}: no such header (listed in HEADERS of ${layer}/CMakeLists.txt)")
    endif()
    get_filename_component(subdir ${dir}/zmesh/${layer}/${header} DIRECTORY)
    file(MAKE_DIRECTORY ${subdir})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${layer}/${header} ${dir}/zmesh/${layer}/${header} SYMBOLIC)
  endforeach()
endfunction()

# zmesh_check_headers(NAME <target> LAYER <layer> HEADERS ... DEPS ... [INCLUDES ...]): an
# object library with one generated source per public (non-internal) header, including only
# that header, so each must compile on its own with what its layer sees (DEPS, INCLUDES).
function(zmesh_check_headers)
  cmake_parse_arguments(ARG "" "NAME;LAYER" "HEADERS;DEPS;INCLUDES" ${ARGN})
  if(NOT ZMESH_CHECK_HEADERS)
    return()
  endif()
  set(sources "")
  foreach(header IN LISTS ARG_HEADERS)
    if(header MATCHES "(^|/)internal/")
      continue()
    endif()
    if("${ARG_LAYER}/${header}" IN_LIST ZMESH_HEADER_CHECK_KNOWN_FAILING)
      message(STATUS "zmesh: header check skips ${ARG_LAYER}/${header} (ZMESH_HEADER_CHECK_KNOWN_FAILING)")
      continue()
    endif()
    set(source ${CMAKE_BINARY_DIR}/header_check/${ARG_LAYER}/${header}.cpp)
    file(CONFIGURE OUTPUT ${source} CONTENT
      "// Generated: zmesh/${ARG_LAYER}/${header} compiles on its own.\n#include \"zmesh/${ARG_LAYER}/${header}\"\n")
    list(APPEND sources ${source})
  endforeach()
  if(NOT sources)
    return()
  endif()
  add_library(${ARG_NAME} OBJECT ${sources})
  target_compile_options(${ARG_NAME} PRIVATE ${ZMESH_WARNINGS})
  target_include_directories(${ARG_NAME} PRIVATE ${ARG_INCLUDES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  set_property(GLOBAL APPEND PROPERTY ZMESH_HEADER_CHECKS ${ARG_NAME})
endfunction()

# zmesh_layer_headers(<out> <layer>): the headers of a layer's folder (relative to it) not
# claimed by a lower library of the same folder (HEADERS of zmesh_library).
function(zmesh_layer_headers out layer)
  file(GLOB_RECURSE headers RELATIVE ${CMAKE_SOURCE_DIR}/${layer} CONFIGURE_DEPENDS
    ${CMAKE_SOURCE_DIR}/${layer}/*.hpp)
  get_property(claimed GLOBAL PROPERTY ZMESH_CLAIMED_HEADERS_${layer})
  if(claimed)
    list(REMOVE_ITEM headers ${claimed})
  endif()
  set(${out} ${headers} PARENT_SCOPE)
endfunction()

# zmesh_library(NAME <target> SOURCES ... DEPS ... [HEADERS ...]): a layer library, exported as
# zmesh::<suffix>, with its own include tree <build>/include-<suffix> (PUBLIC: its headers are
# its interface) and a header check. The layer is the folder of the calling CMakeLists.
# HEADERS: the library is the lower part of its folder and sees only these of its headers;
# the folder's next library sees the whole folder (and checks the rest).
function(zmesh_library)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS;HEADERS" ${ARGN})
  string(REPLACE "zmesh_" "" export_name ${ARG_NAME})
  file(RELATIVE_PATH layer ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set(tree ${CMAKE_BINARY_DIR}/include-${export_name})
  if(ARG_HEADERS)
    zmesh_make_header_tree(${tree} ${layer} ${ARG_HEADERS})
    set_property(GLOBAL APPEND PROPERTY ZMESH_CLAIMED_HEADERS_${layer} ${ARG_HEADERS})
    set(headers ${ARG_HEADERS})
  else()
    zmesh_make_include_tree(${tree} ${layer})
    zmesh_layer_headers(headers ${layer})
  endif()

  add_library(${ARG_NAME} ${ARG_SOURCES})
  target_compile_options(${ARG_NAME} PRIVATE ${ZMESH_WARNINGS})
  target_include_directories(${ARG_NAME} PUBLIC
    $<BUILD_INTERFACE:${tree}>
    $<INSTALL_INTERFACE:include>)
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS})
  set_target_properties(${ARG_NAME} PROPERTIES EXPORT_NAME ${export_name})
  add_library(zmesh::${export_name} ALIAS ${ARG_NAME})
  set_property(GLOBAL APPEND PROPERTY ZMESH_EXPORTED_TARGETS ${ARG_NAME})
  zmesh_check_headers(NAME ${ARG_NAME}_header_check LAYER ${layer} HEADERS ${headers} DEPS ${ARG_NAME})
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

# zmesh_leaked_internal_headers(<out> <layer>...): the internal headers (layer/internal/x.hpp)
# that a public header of these layers includes, directly or through other internal headers.
function(zmesh_leaked_internal_headers out)
  set(queue "")
  foreach(layer IN LISTS ARGN)
    file(GLOB_RECURSE headers RELATIVE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/${layer}/*.hpp)
    list(FILTER headers EXCLUDE REGEX "(^|/)internal/")
    list(APPEND queue ${headers})
  endforeach()
  set(seen "")
  set(leaked "")
  while(queue)
    list(POP_FRONT queue header)
    if(header IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${header})
    file(STRINGS ${CMAKE_SOURCE_DIR}/${header} lines
      REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]zmesh/[^\">]*internal/[^\">]*[\">]")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[^\"<]*[\"<]zmesh/([^\">]+)[\">].*$" "\\1" included "${line}")
      list(APPEND leaked ${included})
      list(APPEND queue ${included})
    endforeach()
  endwhile()
  list(REMOVE_DUPLICATES leaked)
  list(SORT leaked)
  set(${out} ${leaked} PARENT_SCOPE)
endfunction()

# The installed package: the layer libraries, their public headers (no internal/ folder), and
# zmeshConfig.cmake for find_package(zmesh).
function(zmesh_install_package)
  include(GNUInstallDirs)
  include(CMakePackageConfigHelpers)
  get_property(targets GLOBAL PROPERTY ZMESH_EXPORTED_TARGETS)
  install(TARGETS ${targets} EXPORT zmeshTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  set(layers core transport alloc mesh comm)
  foreach(layer IN LISTS layers)
    install(DIRECTORY ${CMAKE_SOURCE_DIR}/${layer}/ DESTINATION include/zmesh/${layer}
      FILES_MATCHING PATTERN "*.hpp" PATTERN internal EXCLUDE)
  endforeach()
  # Internal headers are not installed, so no public header may include one.
  zmesh_leaked_internal_headers(leaked ${layers})
  if(leaked)
    list(JOIN leaked ", " leaked_text)
    message(FATAL_ERROR "public headers include internal ones, which are not installed: "
      "${leaked_text}; move what they need into the public header, or out of it")
  endif()
  install(EXPORT zmeshTargets NAMESPACE zmesh:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zmesh)
  configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/zmeshConfig.cmake.in
    ${CMAKE_BINARY_DIR}/zmeshConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zmesh)
  write_basic_package_version_file(${CMAKE_BINARY_DIR}/zmeshConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
  install(FILES ${CMAKE_BINARY_DIR}/zmeshConfig.cmake ${CMAKE_BINARY_DIR}/zmeshConfigVersion.cmake
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zmesh)
endfunction()
