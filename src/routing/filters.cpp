// Filter fields and ordering as SocketShark's Subscription applies them.
#include "socketshark/routing/filters.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace socketshark::routing {
namespace {

// A JSON number (or bool) as Python holds it: an int or a float.
struct PythonNumber {
  enum class Kind { kSigned, kUnsigned, kFloat } kind;
  std::int64_t signed_value = 0;
  std::uint64_t unsigned_value = 0;
  double float_value = 0;

  static PythonNumber of(const Json& value) {
    if (value.is_boolean()) return {Kind::kSigned, value.get<bool>() ? 1 : 0};
    if (value.is_number_unsigned()) return {Kind::kUnsigned, 0, value.get<std::uint64_t>()};
    if (value.is_number_integer()) return {Kind::kSigned, value.get<std::int64_t>()};
    return {Kind::kFloat, 0, 0, value.get<double>()};
  }
};

// Python compares int with float exactly, never by rounding the int.
bool int_equals_float(const PythonNumber& integer, double number) {
  constexpr double kTwoTo63 = 9223372036854775808.0;
  if (!std::isfinite(number) || std::trunc(number) != number) return false;
  if (integer.kind == PythonNumber::Kind::kSigned)
    return number >= -kTwoTo63 && number < kTwoTo63 &&
           static_cast<std::int64_t>(number) == integer.signed_value;
  return number >= 0 && number < 2 * kTwoTo63 &&
         static_cast<std::uint64_t>(number) == integer.unsigned_value;
}

bool python_numbers_equal(const PythonNumber& left, const PythonNumber& right) {
  using Kind = PythonNumber::Kind;
  if (left.kind == Kind::kFloat && right.kind == Kind::kFloat)
    return left.float_value == right.float_value;
  if (left.kind == Kind::kFloat) return int_equals_float(right, left.float_value);
  if (right.kind == Kind::kFloat) return int_equals_float(left, right.float_value);
  if (left.kind == right.kind)
    return left.signed_value == right.signed_value && left.unsigned_value == right.unsigned_value;
  // One signed, one unsigned (nlohmann keeps non-negative integers unsigned
  // only above INT64_MAX, but compare by value either way).
  const PythonNumber& signed_one = left.kind == Kind::kSigned ? left : right;
  const PythonNumber& unsigned_one = left.kind == Kind::kSigned ? right : left;
  return signed_one.signed_value >= 0 &&
         static_cast<std::uint64_t>(signed_one.signed_value) == unsigned_one.unsigned_value;
}

bool is_python_number(const Json& value) { return value.is_number() || value.is_boolean(); }

// Python's == on the values json.loads builds: True == 1 == 1.0, dicts are
// equal whatever their key order, int and float compare exactly.
bool python_equals(const Json& left, const Json& right) {
  if (is_python_number(left) && is_python_number(right))
    return python_numbers_equal(PythonNumber::of(left), PythonNumber::of(right));
  if (left.type() != right.type()) return false;
  if (left.is_array()) {
    return left.size() == right.size() &&
           std::equal(left.begin(), left.end(), right.begin(), python_equals);
  }
  if (left.is_object()) {
    if (left.size() != right.size()) return false;
    for (auto it = left.begin(); it != left.end(); ++it) {
      auto match = right.find(it.key());
      if (match == right.end() || !python_equals(it.value(), *match)) return false;
    }
    return true;
  }
  return left == right;  // null, string, binary
}

// dict.get(field): a missing field (or no dict at all) reads as None.
const Json& get_or_null(const Json& object, const std::string& field) {
  static const Json kNull = nullptr;
  if (!object.is_object()) return kNull;
  auto it = object.find(field);
  return it == object.end() ? kNull : *it;
}

}  // namespace

bool filter_fields_match(const Json& message, const std::vector<std::string>& filter_fields,
                         const std::vector<std::string>& extra_fields, const Json& extra_data,
                         const Json& auth_info) {
  if (!message.is_object()) return true;
  for (const std::string& field : filter_fields) {
    auto wanted = message.find(field);
    if (wanted == message.end()) continue;  // only fields the publisher set filter
    const bool is_extra_field =
        std::find(extra_fields.begin(), extra_fields.end(), field) != extra_fields.end();
    const Json& have = get_or_null(is_extra_field ? extra_data : auth_info, field);
    if (!python_equals(have, *wanted)) return false;
  }
  return true;
}

bool OrderState::accept(const MessageOptions& options) {
  if (!options.order) return true;
  const double order = *options.order;
  auto highest = highest_.find(options.order_key);
  // Python's `order <= last` is false when either side is NaN, so a NaN
  // order is accepted and recorded, and after it any order is accepted.
  if (highest != highest_.end() && order <= highest->second) return false;
  highest_[options.order_key] = order;
  return true;
}

}  // namespace socketshark::routing
