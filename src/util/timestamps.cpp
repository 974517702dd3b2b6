// ISO-8601 reading and writing with Python 3.11 datetime semantics.
//
// normalize_published_at mirrors CPython 3.11's C implementation of
// datetime.fromisoformat (Modules/_datetimemodule.c) step by step, quirks
// included: that code reads a NUL-terminated buffer and some of its checks
// look at the terminator rather than the parsed length, so `CText` returns
// '\0' past the end and embedded NULs behave exactly as in CPython.
#include "socketshark/util/timestamps.hpp"

#include <cstdint>
#include <cstdlib>

namespace socketshark {
namespace {

constexpr int kMinYear = 1;
constexpr int kMaxYear = 9999;
constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// The input as CPython's parser sees its UTF-8 buffer.
class CText {
 public:
  explicit CText(std::string_view text) : text_(text) {}
  char operator[](std::size_t index) const { return index < text_.size() ? text_[index] : '\0'; }
  std::size_t size() const { return text_.size(); }

 private:
  std::string_view text_;
};

bool is_digit(char c) { return static_cast<unsigned>(c - '0') < 10; }

// parse_digits: exactly `count` digits at `pos`, accumulated into `value`.
bool parse_digits(const CText& text, std::size_t& pos, int& value, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    char c = text[pos++];
    if (!is_digit(c)) return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

// ---- Proleptic Gregorian calendar, as datetime computes it ----

bool is_leap(int year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month];
}

int days_before_month(int year, int month) {
  static constexpr int kBefore[] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  return kBefore[month] + (month > 2 && is_leap(year) ? 1 : 0);
}

// Ordinal of a date, 0001-01-01 being day 1 (only called with year >= 1).
int ymd_to_ordinal(int year, int month, int day) {
  int y = year - 1;
  return y * 365 + y / 4 - y / 100 + y / 400 + days_before_month(year, month) + day;
}

void ordinal_to_ymd(int ordinal, int& year, int& month, int& day) {
  constexpr int kDaysIn400Years = 146097, kDaysIn100Years = 36524, kDaysIn4Years = 1461;
  int n = ordinal - 1;
  int n400 = n / kDaysIn400Years;
  n %= kDaysIn400Years;
  int n100 = n / kDaysIn100Years;
  n %= kDaysIn100Years;
  int n4 = n / kDaysIn4Years;
  n %= kDaysIn4Years;
  int n1 = n / 365;
  n %= 365;
  year = n400 * 400 + 1 + n100 * 100 + n4 * 4 + n1;
  if (n1 == 4 || n100 == 4) {  // the last day of a leap cycle
    year -= 1;
    month = 12;
    day = 31;
    return;
  }
  month = 1;
  while (month < 12 && days_before_month(year, month + 1) <= n) ++month;
  day = n - days_before_month(year, month) + 1;
}

// iso_to_ymd: ISO year/week/weekday to a calendar date; false when week or
// weekday is out of range. The result can still fall outside years 1..9999.
bool iso_week_date_to_ymd(int iso_year, int iso_week, int iso_day, int& year, int& month,
                          int& day) {
  // CPython's arithmetic assumes year >= 1; for year 0 it yields dates that
  // its range checks always reject, so reject them here without the math.
  if (iso_year < kMinYear) return false;
  if (iso_week <= 0 || iso_week >= 53) {
    if (iso_week != 53) return false;
    // A year has 53 ISO weeks when it starts on a Thursday, or on a
    // Wednesday in a leap year.
    int first_weekday = (ymd_to_ordinal(iso_year, 1, 1) + 6) % 7;  // Monday = 0
    if (!(first_weekday == 3 || (first_weekday == 2 && is_leap(iso_year)))) return false;
  }
  if (iso_day <= 0 || iso_day >= 8) return false;
  int first_day = ymd_to_ordinal(iso_year, 1, 1);
  int first_weekday = (first_day + 6) % 7;
  int week1_monday = first_day - first_weekday + (first_weekday > 3 ? 7 : 0);
  ordinal_to_ymd(week1_monday + (iso_week - 1) * 7 + iso_day - 1, year, month, day);
  return true;
}

// ---- The parser (CPython 3.11 _datetimemodule.c) ----

// _find_isoformat_datetime_separator: where the date ends (-1: malformed).
std::ptrdiff_t find_datetime_separator(const CText& text) {
  const std::size_t len = text.size();
  if (len == 7) return 7;
  if (text[4] == '-') {
    if (text[5] != 'W') return 10;  // YYYY-MM-DD
    if (len < 8) return -1;
    if (len > 8 && text[8] == '-') {  // YYYY-Www-D or YYYY-Www followed by '-'
      if (len == 9) return -1;
      // "YYYY-Www-##": CPython settles the ambiguity as a '-' separator.
      if (len > 10 && is_digit(text[10])) return 8;
      return 10;
    }
    return 8;  // YYYY-Www
  }
  if (text[4] == 'W') {  // YYYYWww or YYYYWwwd: count the digits that follow
    std::size_t index = 7;
    while (index < len && is_digit(text[index])) ++index;
    if (index < 9) return static_cast<std::ptrdiff_t>(index);
    return index % 2 == 0 ? 7 : 8;
  }
  return 8;  // YYYYMMDD
}

// parse_isoformat_date; `date_length` only matters for week dates.
bool parse_date(const CText& text, std::size_t date_length, int& year, int& month, int& day) {
  std::size_t pos = 0;
  if (!parse_digits(text, pos, year, 4)) return false;
  const bool uses_separator = text[pos] == '-';
  if (uses_separator) ++pos;
  if (text[pos] == 'W') {
    ++pos;
    int iso_week = 0, iso_day = 0;
    if (!parse_digits(text, pos, iso_week, 2)) return false;
    if (pos < date_length) {
      if (uses_separator && text[pos++] != '-') return false;
      if (!parse_digits(text, pos, iso_day, 1)) return false;
    } else {
      iso_day = 1;
    }
    return iso_week_date_to_ymd(year, iso_week, iso_day, year, month, day);
  }
  if (!parse_digits(text, pos, month, 2)) return false;
  if (uses_separator && text[pos++] != '-') return false;
  return parse_digits(text, pos, day, 2);
}

struct ClockFields {
  int hour = 0, minute = 0, second = 0, microsecond = 0;
};

enum class FieldsResult { kError, kAtEnd, kTrailing };

// parse_hh_mm_ss_ff over [pos, end): HH[:MM[:SS[.ffffff]]] or the basic form.
// kTrailing is CPython's "1": something other than the terminator follows.
FieldsResult parse_clock_fields(const CText& text, std::size_t pos, std::size_t end,
                                ClockFields& out) {
  out = {};
  int* fields[3] = {&out.hour, &out.minute, &out.second};
  bool has_separator = true;
  for (int i = 0; i < 3; ++i) {
    if (!parse_digits(text, pos, *fields[i], 2)) return FieldsResult::kError;
    char c = text[pos++];
    if (i == 0) has_separator = c == ':';
    if (pos >= end) return c != '\0' ? FieldsResult::kTrailing : FieldsResult::kAtEnd;
    if (has_separator && c == ':') continue;
    if (c == '.' || c == ',') break;
    if (!has_separator) {
      --pos;
    } else {
      return FieldsResult::kError;
    }
  }
  // Fraction: up to six digits count, later digits are truncated.
  std::size_t to_parse = end - pos < 6 ? end - pos : 6;
  if (!parse_digits(text, pos, out.microsecond, to_parse)) return FieldsResult::kError;
  for (std::size_t scale = to_parse; scale < 6; ++scale) out.microsecond *= 10;
  while (is_digit(text[pos])) ++pos;
  return text[pos] != '\0' ? FieldsResult::kTrailing : FieldsResult::kAtEnd;
}

struct ParsedTime {
  ClockFields clock;
  bool has_offset = false;
  int offset_seconds = 0;
  int offset_microseconds = 0;
};

// parse_isoformat_time over [pos, end of text).
bool parse_time(const CText& text, std::size_t pos, ParsedTime& out) {
  const std::size_t end = text.size();
  std::size_t tz_pos = pos;
  do {  // a do-while in CPython: the first character is looked at even at the end
    char c = text[tz_pos];
    if (c == 'Z' || c == '+' || c == '-') break;
  } while (++tz_pos < end);

  FieldsResult clock = parse_clock_fields(text, pos, tz_pos, out.clock);
  if (clock == FieldsResult::kError) return false;
  if (tz_pos == end) return clock == FieldsResult::kAtEnd;

  out.has_offset = true;
  if (text[tz_pos] == 'Z') return text[tz_pos + 1] == '\0';

  const int sign = text[tz_pos] == '-' ? -1 : 1;
  ClockFields offset;
  if (parse_clock_fields(text, tz_pos + 1, end, offset) != FieldsResult::kAtEnd) return false;
  out.offset_seconds = sign * (offset.hour * 3600 + offset.minute * 60 + offset.second);
  out.offset_microseconds = sign * offset.microsecond;
  return true;
}

// Bytes taken by the separator, from its UTF-8 lead byte as CPython counts them.
std::size_t separator_width(char lead) {
  auto byte = static_cast<unsigned char>(lead);
  if ((byte & 0x80) == 0) return 1;
  if ((byte & 0xf0) == 0xe0) return 3;
  if ((byte & 0xf0) == 0xf0) return 4;
  return 2;
}

// ---- Output, as datetime.isoformat() prints ----

class Writer {
 public:
  void put(char c) { buffer_[size_++] = c; }
  void put_number(std::int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      buffer_[size_ + i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    size_ += width;
  }
  void put_date_time(int year, int month, int day, int hour, int minute, int second,
                     int microsecond) {
    put_number(year, 4);
    put('-');
    put_number(month, 2);
    put('-');
    put_number(day, 2);
    put('T');
    put_number(hour, 2);
    put(':');
    put_number(minute, 2);
    put(':');
    put_number(second, 2);
    if (microsecond != 0) {
      put('.');
      put_number(microsecond, 6);
    }
  }
  // format_utcoffset: ±HH:MM, then :SS and .ffffff only when non-zero.
  void put_utc_offset(std::int64_t offset_micros) {
    put(offset_micros < 0 ? '-' : '+');
    std::int64_t magnitude = offset_micros < 0 ? -offset_micros : offset_micros;
    std::int64_t seconds = magnitude / kMicrosPerSecond;
    std::int64_t micros = magnitude % kMicrosPerSecond;
    put_number(seconds / 3600, 2);
    put(':');
    put_number(seconds / 60 % 60, 2);
    if (micros != 0 || seconds % 60 != 0) {
      put(':');
      put_number(seconds % 60, 2);
    }
    if (micros != 0) {
      put('.');
      put_number(micros, 6);
    }
  }
  std::string str() const { return std::string(buffer_, size_); }

 private:
  char buffer_[48];  // longest: "9999-12-31T23:59:59.999999-23:59:59.999999"
  std::size_t size_ = 0;
};

}  // namespace

std::optional<std::string> normalize_published_at(std::string_view input) {
  const CText text(input);
  // CPython rejects fewer than 7 code points; every valid string starts with
  // at least 7 ASCII characters, so counting bytes decides the same.
  if (text.size() < 7) return std::nullopt;

  const std::ptrdiff_t separator = find_datetime_separator(text);
  int year = 0, month = 0, day = 0;
  if (separator < 0 || !parse_date(text, static_cast<std::size_t>(separator), year, month, day))
    return std::nullopt;

  ParsedTime time;
  const auto date_end = static_cast<std::size_t>(separator);
  if (text.size() > date_end) {
    const std::size_t time_start = date_end + separator_width(text[date_end]);
    if (time_start > text.size()) return std::nullopt;  // truncated UTF-8 separator
    if (!parse_time(text, time_start, time)) return std::nullopt;
  }

  // The range checks of the datetime constructor.
  if (year < kMinYear || year > kMaxYear || month < 1 || month > 12 || day < 1 ||
      day > days_in_month(year, month))
    return std::nullopt;
  const ClockFields& clock = time.clock;
  if (clock.hour > 23 || clock.minute > 59 || clock.second > 59) return std::nullopt;

  // CPython turns a zero-second offset into UTC even when it has a fraction.
  std::int64_t offset_micros = 0;
  if (time.has_offset && time.offset_seconds != 0) {
    offset_micros = time.offset_seconds * kMicrosPerSecond + time.offset_microseconds;
    if (offset_micros <= -kMicrosPerDay || offset_micros >= kMicrosPerDay) return std::nullopt;
  }

  Writer out;
  out.put_date_time(year, month, day, clock.hour, clock.minute, clock.second, clock.microsecond);
  if (time.has_offset) out.put_utc_offset(offset_micros);
  return out.str();
}

std::string utc_isoformat(std::chrono::system_clock::time_point when) {
  using namespace std::chrono;
  const auto micros = floor<microseconds>(when).time_since_epoch().count();
  std::int64_t days = micros / kMicrosPerDay;
  std::int64_t micros_of_day = micros % kMicrosPerDay;
  if (micros_of_day < 0) {  // floor for instants before 1970
    micros_of_day += kMicrosPerDay;
    --days;
  }
  const year_month_day date{sys_days{std::chrono::days{days}}};
  const std::int64_t seconds_of_day = micros_of_day / kMicrosPerSecond;

  Writer out;
  out.put_date_time(static_cast<int>(date.year()), static_cast<int>(unsigned{date.month()}),
                    static_cast<int>(unsigned{date.day()}), static_cast<int>(seconds_of_day / 3600),
                    static_cast<int>(seconds_of_day / 60 % 60), static_cast<int>(seconds_of_day % 60),
                    static_cast<int>(micros_of_day % kMicrosPerSecond));
  out.put_utc_offset(0);
  return out.str();
}

}  // namespace socketshark
