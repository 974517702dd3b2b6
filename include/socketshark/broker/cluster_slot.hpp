// Redis Cluster key slots, computed exactly as Redis's keyHashSlot (cluster.c):
// CRC16/XMODEM of the key, or of the first non-empty `{hash tag}` in it,
// modulo 16384. Shard channels (SSUBSCRIBE/SPUBLISH) are placed by the same rule.
#pragma once

#include <cstdint>
#include <string_view>

namespace socketshark::broker {

inline constexpr std::uint16_t kClusterSlots = 16384;

// CRC16/XMODEM (polynomial 0x1021, initial value 0, no reflection).
std::uint16_t crc16_xmodem(std::string_view data);

// The slot (0..16383) that owns `key`.
std::uint16_t key_hash_slot(std::string_view key);

}  // namespace socketshark::broker
