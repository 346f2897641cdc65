// main() for test binaries that start process meshes: the same binary is started as each
// proc, so zmesh::init must run before GoogleTest sees the arguments.
#include "testing/mesh_actors.hpp"
#include "zmesh/alloc/bootstrap.hpp"

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  zmesh::init(argc, argv, zmesh::testing::registry());
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
