#pragma once
// Key files: the CURVE key pair every launcher, client and proc of one cluster shares, as a
// small text file that only its owner may read (like Slurm's munge key). `zmesh keygen FILE`
// writes one; Config reads it from ZMESH_KEY_FILE. Thread: free functions, no state.
// Failure: every error names the file and what to do (missing, readable by others, garbled).

#include "zmesh/core/error.hpp"

#include <string>
#include <string_view>

namespace zmesh {

// A CURVE key pair as Z85 text (40 characters each). Both halves are secret here: a peer
// can only complete the handshake when it knows the server's public key, and in zmesh every
// server uses the cluster's one pair, so the file as a whole is the credential.
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;

  bool empty() const noexcept { return public_key.empty() && secret_key.empty(); }
  friend bool operator==(const CurveKeyPair&, const CurveKeyPair&) = default;
};

// Checks the shape of both keys (40 Z85 characters); the error names `origin`.
Result<void> check_key_pair(const CurveKeyPair& keys, std::string_view origin);

// Reads `path`: it must be a regular file readable by us and by nobody but its owner.
Result<CurveKeyPair> read_key_file(const std::string& path);

// Writes `keys` to a new file `path` with mode 0600; refuses to replace an existing file.
Result<void> write_key_file(const std::string& path, const CurveKeyPair& keys);

// "PUBLIC:SECRET", the form ZMESH_KEY carries a pair to a child proc, and its parser.
std::string key_pair_text(const CurveKeyPair& keys);
Result<CurveKeyPair> parse_key_pair_text(std::string_view text, std::string_view origin);

}  // namespace zmesh
