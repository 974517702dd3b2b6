// Message options read the way SocketShark's _get_options reads them.
#include "socketshark/routing/message_options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>

namespace socketshark::routing {
namespace {

// First code points of the Unicode 14 (Python 3.11) decimal digit runs; each
// run holds the digits 0..9 in order.
constexpr char32_t kDecimalDigitZeros[] = {
    0x660,   0x6f0,   0x7c0,   0x966,   0x9e6,   0xa66,   0xae6,   0xb66,   0xbe6,   0xc66,
    0xce6,   0xd66,   0xde6,   0xe50,   0xed0,   0xf20,   0x1040,  0x1090,  0x17e0,  0x1810,
    0x1946,  0x19d0,  0x1a80,  0x1a90,  0x1b50,  0x1bb0,  0x1c40,  0x1c50,  0xa620,  0xa8d0,
    0xa900,  0xa9d0,  0xa9f0,  0xaa50,  0xabf0,  0xff10,  0x104a0, 0x10d30, 0x11066, 0x110f0,
    0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0, 0x11950,
    0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec,
    0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0};

// Non-ASCII code points that str.isspace() accepts in Python 3.11.
bool is_unicode_space(char32_t cp) {
  return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

int unicode_decimal_value(char32_t cp) {
  const auto* run = std::upper_bound(std::begin(kDecimalDigitZeros), std::end(kDecimalDigitZeros), cp);
  if (run == std::begin(kDecimalDigitZeros)) return -1;
  char32_t zero = *(run - 1);
  return cp - zero < 10 ? static_cast<int>(cp - zero) : -1;
}

// Decodes one UTF-8 code point at `pos`; false on malformed input.
bool decode_utf8(std::string_view text, std::size_t& pos, char32_t& cp) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(pos);
  std::size_t length = lead < 0xc0 ? 0 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf8 ? 4 : 0;
  if (length == 0 || pos + length > text.size()) return false;
  cp = lead & (0x7f >> length);
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xc0) != 0x80) return false;
    cp = (cp << 6) | (byte(pos + i) & 0x3f);
  }
  pos += length;
  return true;
}

// Python's _PyUnicode_TransformDecimalAndSpaceToASCII: Unicode spaces become
// ' ' and Unicode decimal digits their ASCII digit; any other non-ASCII
// character (DEL included) makes the string unparseable.
std::optional<std::string> to_ascii_number_text(std::string_view text) {
  std::string ascii;
  ascii.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    auto byte = static_cast<unsigned char>(text[pos]);
    if (byte < 0x7f) {
      ascii += static_cast<char>(byte);
      ++pos;
      continue;
    }
    char32_t cp = 0;
    if (byte == 0x7f || !decode_utf8(text, pos, cp)) return std::nullopt;
    if (is_unicode_space(cp)) {
      ascii += ' ';
    } else if (int digit = unicode_decimal_value(cp); digit >= 0) {
      ascii += static_cast<char>('0' + digit);
    } else {
      return std::nullopt;
    }
  }
  return ascii;
}

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

// Python's _Py_string_to_number_with_underscores: every '_' must sit between
// two digits; the underscores are then dropped.
bool remove_digit_underscores(std::string& text) {
  std::size_t kept = 0;
  char previous = '\0';
  for (char c : text) {
    if (c == '_') {
      if (!is_ascii_digit(previous)) return false;
    } else {
      if (previous == '_' && !is_ascii_digit(c)) return false;
      text[kept++] = c;
    }
    previous = c;
  }
  if (previous == '_') return false;
  text.resize(kept);
  return true;
}

// Py_ISSPACE: the ASCII whitespace float() strips after the transform above.
bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool equals_ignoring_case(std::string_view text, std::string_view lower_word) {
  if (text.size() != lower_word.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower_word[i]) return false;
  }
  return true;
}

// The unsigned decimal grammar of Python's _Py_dg_strtod, which must cover
// the whole text: digits [. digits] [e [sign] digits], at least one digit in
// the mantissa (".5" and "5." are fine, "." and "1e" are not).
std::optional<double> parse_unsigned_decimal(std::string_view text) {
  std::size_t pos = 0;
  auto digits_from = [&](std::size_t start) {
    while (pos < text.size() && is_ascii_digit(text[pos])) ++pos;
    return text.substr(start, pos - start);
  };
  const std::string_view integer_digits = digits_from(pos);
  std::string_view fraction_digits;
  if (pos < text.size() && text[pos] == '.') fraction_digits = digits_from(++pos);
  if (integer_digits.empty() && fraction_digits.empty()) return std::nullopt;
  bool exponent_negative = false;
  std::string_view exponent_digits;
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      exponent_negative = text[pos] == '-';
      ++pos;
    }
    exponent_digits = digits_from(pos);
    if (exponent_digits.empty()) return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value,
                                      std::chars_format::general);
  if (end != text.data() + text.size()) return std::nullopt;
  if (error == std::errc()) return value;
  if (error != std::errc::result_out_of_range) return std::nullopt;

  // Python gives inf on overflow and 0 on underflow. Out of range means above
  // ~1e308 or below ~1e-324, so the decimal exponent of the first significant
  // digit tells which one it is.
  long long leading_exponent = 0;
  if (auto first = integer_digits.find_first_not_of('0'); first != std::string_view::npos) {
    leading_exponent = static_cast<long long>(integer_digits.size() - first) - 1;
  } else if (auto first_fraction = fraction_digits.find_first_not_of('0');
             first_fraction != std::string_view::npos) {
    leading_exponent = -static_cast<long long>(first_fraction) - 1;
  } else {
    return 0.0;
  }
  long long exponent = 0;
  for (char c : exponent_digits) exponent = std::min(exponent * 10 + (c - '0'), 1'000'000'000LL);
  if (exponent_negative) exponent = -exponent;
  return leading_exponent + exponent > 0 ? std::numeric_limits<double>::infinity() : 0.0;
}

std::optional<double> python_float_from_string(std::string_view raw) {
  std::optional<std::string> ascii = to_ascii_number_text(raw);
  if (!ascii) return std::nullopt;
  // An embedded NUL ends Python's C string early, so it never parses.
  if (ascii->find('\0') != std::string::npos) return std::nullopt;
  if (ascii->find('_') != std::string::npos && !remove_digit_underscores(*ascii))
    return std::nullopt;

  std::string_view text = *ascii;
  while (!text.empty() && is_ascii_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_ascii_space(text.back())) text.remove_suffix(1);

  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  std::optional<double> magnitude;
  if (equals_ignoring_case(text, "inf") || equals_ignoring_case(text, "infinity")) {
    magnitude = std::numeric_limits<double>::infinity();
  } else if (equals_ignoring_case(text, "nan")) {
    magnitude = std::numeric_limits<double>::quiet_NaN();
  } else {
    magnitude = parse_unsigned_decimal(text);
  }
  if (!magnitude) return std::nullopt;
  return negative ? -*magnitude : *magnitude;
}

}  // namespace

std::optional<double> python_float(const Json& value) {
  switch (value.type()) {
    case Json::value_t::number_integer:
      return static_cast<double>(value.get<std::int64_t>());
    case Json::value_t::number_unsigned:
      return static_cast<double>(value.get<std::uint64_t>());
    case Json::value_t::number_float:
      return value.get<double>();
    case Json::value_t::boolean:
      return value.get<bool>() ? 1.0 : 0.0;
    case Json::value_t::string:
      return python_float_from_string(value.get_ref<const std::string&>());
    default:  // null, object, array, binary: float() raises TypeError
      return std::nullopt;
  }
}

std::string key_of(const Json& value) {
  // Python dict keys compare by value: True, 1 and 1.0 are one key, and so
  // are False, 0, 0.0 and -0.0. Write such numbers in one integer spelling.
  if (value.is_boolean()) return value.get<bool>() ? "1" : "0";
  if (value.is_number_float()) {
    double number = value.get<double>();
    constexpr double kTwoTo63 = 9223372036854775808.0;
    if (std::isfinite(number) && std::trunc(number) == number) {
      if (number >= -kTwoTo63 && number < kTwoTo63)
        return std::to_string(static_cast<std::int64_t>(number));
      if (number >= kTwoTo63 && number < 2 * kTwoTo63)
        return std::to_string(static_cast<std::uint64_t>(number));
    }
  }
  return value.dump();
}

MessageOptions parse_options(const Json& message) {
  MessageOptions options;
  options.order_key = key_of(nullptr);
  options.throttle_key = key_of(nullptr);
  if (!message.is_object()) return options;
  auto raw = message.find("options");
  if (raw == message.end() || !raw->is_object()) return options;

  auto read = [&](const char* name, const char* key_name, std::optional<double>& number,
                  std::string& key) {
    auto field = raw->find(name);
    if (field == raw->end()) return;
    number = python_float(*field);
    if (!number) return;
    auto key_field = raw->find(key_name);
    key = key_of(key_field == raw->end() ? Json(nullptr) : *key_field);
  };
  read("order", "order_key", options.order, options.order_key);
  read("throttle", "throttle_key", options.throttle, options.throttle_key);
  return options;
}

}  // namespace socketshark::routing
