#include <gtest/gtest.h>

#include "socketshark/protocol/token_bucket.hpp"

using socketshark::protocol::TokenBucket;
using Verdict = TokenBucket::Verdict;

TEST(TokenBucket, DisabledAllowsEverything) {
  TokenBucket bucket(0, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(bucket.take(0), Verdict::allowed);
}

TEST(TokenBucket, BurstThenRefusalsThenAbuse) {
  TokenBucket bucket(1, 3);  // 1 event/s, bursts of 3
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.take(0), Verdict::allowed);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.take(0), Verdict::refused);
  EXPECT_EQ(bucket.take(0), Verdict::abusive);
}

TEST(TokenBucket, TokensRefillWithTime) {
  TokenBucket bucket(2, 2);
  EXPECT_EQ(bucket.take(0), Verdict::allowed);
  EXPECT_EQ(bucket.take(0), Verdict::allowed);
  EXPECT_EQ(bucket.take(0), Verdict::refused);
  EXPECT_EQ(bucket.take(0.5), Verdict::allowed);  // one token back after 0.5 s at 2/s
  EXPECT_EQ(bucket.take(0.5), Verdict::refused);
  EXPECT_EQ(bucket.take(10), Verdict::allowed);  // refilled to the burst, not beyond
  EXPECT_EQ(bucket.take(10), Verdict::allowed);
  EXPECT_EQ(bucket.take(10), Verdict::refused);
}

TEST(TokenBucket, AnAllowedEventResetsTheAbuseCount) {
  TokenBucket bucket(1, 1);
  EXPECT_EQ(bucket.take(0), Verdict::allowed);
  EXPECT_EQ(bucket.take(0), Verdict::refused);
  EXPECT_EQ(bucket.take(1), Verdict::allowed);
  EXPECT_EQ(bucket.take(1), Verdict::refused);
  EXPECT_EQ(bucket.take(1), Verdict::abusive);
}
