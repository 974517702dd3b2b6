#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "socketshark/util/fifo.hpp"

using socketshark::Fifo;

TEST(Fifo, KeepsOrderAcrossCompaction) {
  Fifo<std::string> queue;
  for (int i = 0; i < 1000; ++i) queue.push_back(std::to_string(i));
  for (int i = 0; i < 900; ++i) EXPECT_EQ(queue.pop_front(), std::to_string(i));  // compacts on the way
  for (int i = 1000; i < 1100; ++i) queue.push_back(std::to_string(i));
  ASSERT_EQ(queue.size(), 200u);
  for (int i = 900; i < 1100; ++i) EXPECT_EQ(queue.pop_front(), std::to_string(i));
  EXPECT_TRUE(queue.empty());
}

TEST(Fifo, EraseAtCountsFromTheFront) {
  Fifo<int> queue;
  for (int i = 0; i < 5; ++i) queue.push_back(i);
  queue.pop_front();
  queue.erase_at(1);  // removes 2
  EXPECT_EQ(queue.pop_front(), 1);
  EXPECT_EQ(queue.pop_front(), 3);
  EXPECT_EQ(queue.pop_front(), 4);
}

TEST(Fifo, MoveOnlyElementsSurviveCompaction) {
  Fifo<std::unique_ptr<int>> queue;
  for (int i = 0; i < 200; ++i) queue.push_back(i % 3 ? std::make_unique<int>(i) : nullptr);
  for (int i = 0; i < 200; ++i) {
    auto item = queue.pop_front();
    if (i % 3)
      EXPECT_EQ(*item, i);
    else
      EXPECT_EQ(item, nullptr);
  }
}
