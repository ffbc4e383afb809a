#include "core/hash.h"

#include "gtest/gtest.h"

namespace fedrad {
namespace {

// Digests from FIPS 180-2, appendix B.
TEST(Sha256, MatchesFipsVectors) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  Sha256Hasher h;
  h.Update("ab");
  h.Update("c");
  EXPECT_EQ(h.FinalHex(), Sha256Hex("abc"));
}

}  // namespace
}  // namespace fedrad
