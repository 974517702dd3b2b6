// Slots checked against `redis-cli CLUSTER KEYSLOT` of Redis 7.0.15.
#include <gtest/gtest.h>

#include <string>

#include "socketshark/broker/cluster_slot.hpp"

using socketshark::broker::crc16_xmodem;
using socketshark::broker::key_hash_slot;

TEST(ClusterSlot, Crc16XmodemCheckValue) {
  EXPECT_EQ(crc16_xmodem("123456789"), 0x31C3);  // the catalogue check value of CRC-16/XMODEM
  EXPECT_EQ(crc16_xmodem(""), 0);
}

TEST(ClusterSlot, PlainKeysMatchRedis) {
  EXPECT_EQ(key_hash_slot("foo"), 12182);
  EXPECT_EQ(key_hash_slot("bar"), 5061);
  EXPECT_EQ(key_hash_slot("hello"), 866);
  EXPECT_EQ(key_hash_slot("123456789"), 12739);
  EXPECT_EQ(key_hash_slot(""), 0);
  EXPECT_EQ(key_hash_slot("pfx:open.t"), 163);
  EXPECT_EQ(key_hash_slot("\xc3\xa9"), 10180);  // bytes, not characters
}

TEST(ClusterSlot, HashTagsMatchRedis) {
  EXPECT_EQ(key_hash_slot("{user1000}.following"), 3443);
  EXPECT_EQ(key_hash_slot("{user1000}.followers"), 3443);
  EXPECT_EQ(key_hash_slot("{a}"), 15495);
  EXPECT_EQ(key_hash_slot("{a}"), key_hash_slot("a"));
  EXPECT_EQ(key_hash_slot("foo{bar}{zap}"), 5061);  // the first tag only
  EXPECT_EQ(key_hash_slot("foo{bar}{zap}"), key_hash_slot("bar"));
}

TEST(ClusterSlot, DegenerateTagsHashTheWholeKey) {
  EXPECT_EQ(key_hash_slot("foo{}{bar}"), 8363);   // empty first tag: whole key
  EXPECT_EQ(key_hash_slot("{}"), 15257);
  EXPECT_EQ(key_hash_slot("foo{{bar}}zap"), 4015);  // tag is "{bar"
  EXPECT_EQ(key_hash_slot("foo{{bar}}zap"), key_hash_slot("{bar"));
  EXPECT_EQ(key_hash_slot("{bar"), 4015);     // no closing brace: whole key
  EXPECT_EQ(key_hash_slot("}bar{"), 1498);
  EXPECT_EQ(key_hash_slot("a{b"), 13340);
}

TEST(ClusterSlot, EmbeddedNulBytesAreHashed) {
  const std::string key("a\0b", 3);
  EXPECT_NE(key_hash_slot(key), key_hash_slot("a"));
  EXPECT_LT(key_hash_slot(key), 16384);
}
