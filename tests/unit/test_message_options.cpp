// python_float, key_of and parse_options against Python 3.11 and SocketShark.
//
// The tables were produced by running CPython 3.11.7:
//   kFloatStringCases: float(s) (hex-float literal), nullopt on ValueError;
//   kFloatJsonCases: float(json.loads(text)), nullopt on TypeError;
//   kOptionsCases: SocketShark's own _get_options (from subscription.py)
//     applied to json.loads(message), keys written back with json.dumps;
//   kKeyCases: whether two JSON values are the same dict key in Python.
#include "socketshark/routing/message_options.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace socketshark::routing {
namespace {

using namespace std::literals;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Same value bit for bit (so -0.0 differs from 0.0); NaNs by their sign only.
bool same_float(std::optional<double> left, std::optional<double> right) {
  if (!left || !right) return left.has_value() == right.has_value();
  if (std::isnan(*left) || std::isnan(*right))
    return std::isnan(*left) && std::isnan(*right) && std::signbit(*left) == std::signbit(*right);
  return std::memcmp(&*left, &*right, sizeof(double)) == 0;
}

std::string describe(std::optional<double> value) {
  if (!value) return "nullopt";
  char text[64];
  std::snprintf(text, sizeof text, "%a", *value);
  return text;
}

struct FloatStringCase {
  std::string_view input;
  std::optional<double> expected;
};

const FloatStringCase kFloatStringCases[] = {
    {"1"sv, std::optional<double>(0x1.0000000000000p+0)},
    {"1.5"sv, std::optional<double>(0x1.8000000000000p+0)},
    {"-1.5e10"sv, std::optional<double>(-0x1.bf08eb0000000p+33)},
    {"+3"sv, std::optional<double>(0x1.8000000000000p+1)},
    {"0"sv, std::optional<double>(0.0)},
    {"-0"sv, std::optional<double>(-0.0)},
    {"00"sv, std::optional<double>(0.0)},
    {"0e0"sv, std::optional<double>(0.0)},
    {"1."sv, std::optional<double>(0x1.0000000000000p+0)},
    {".5"sv, std::optional<double>(0x1.0000000000000p-1)},
    {"+.5e-3"sv, std::optional<double>(0x1.0624dd2f1a9fcp-11)},
    {"1E+0_1"sv, std::optional<double>(0x1.4000000000000p+3)},
    {"1.5e3"sv, std::optional<double>(0x1.7700000000000p+10)},
    {"12345678901234567890123"sv, std::optional<double>(0x1.4ea15b273b38ap+73)},
    {"inf"sv, std::optional<double>(kInf)},
    {"INF"sv, std::optional<double>(kInf)},
    {"-Infinity"sv, std::optional<double>(-kInf)},
    {"+iNfInItY"sv, std::optional<double>(kInf)},
    {"nan"sv, std::optional<double>(kNaN)},
    {"-nan"sv, std::optional<double>(-kNaN)},
    {"+nAn"sv, std::optional<double>(kNaN)},
    {"infinit"sv, std::nullopt},
    {"infinityy"sv, std::nullopt},
    {"nan(1)"sv, std::nullopt},
    {"in_f"sv, std::nullopt},
    {"-inf "sv, std::optional<double>(-kInf)},
    {" 1 "sv, std::optional<double>(0x1.0000000000000p+0)},
    {"\011\012\013\014\0151\015\012"sv, std::optional<double>(0x1.0000000000000p+0)},
    {"\302\2401\342\200\203"sv, std::optional<double>(0x1.0000000000000p+0)},
    {"\302\2051"sv, std::optional<double>(0x1.0000000000000p+0)},
    {"\342\200\2501"sv, std::optional<double>(0x1.0000000000000p+0)},
    {"1e5\343\200\200"sv, std::optional<double>(0x1.86a0000000000p+16)},
    {"\0341"sv, std::nullopt},
    {"1\034"sv, std::nullopt},
    {"\342\200\2131"sv, std::nullopt},
    {"1\341\240\216"sv, std::nullopt},
    {"\331\241\331\242"sv, std::optional<double>(0x1.8000000000000p+3)},
    {"\357\274\221.5"sv, std::optional<double>(0x1.8000000000000p+0)},
    {"\357\274\221e\357\274\221"sv, std::optional<double>(0x1.4000000000000p+3)},
    {"\360\235\237\231\360\235\237\230"sv, std::optional<double>(0x1.4000000000000p+3)},
    {"\331\241_\331\242"sv, std::optional<double>(0x1.8000000000000p+3)},
    {"\331\2535"sv, std::nullopt},
    {"1\331\2535"sv, std::nullopt},
    {"1_000"sv, std::optional<double>(0x1.f400000000000p+9)},
    {"1_000.000_1"sv, std::optional<double>(0x1.f4000346dc5d6p+9)},
    {"1__0"sv, std::nullopt},
    {"_1"sv, std::nullopt},
    {"1_"sv, std::nullopt},
    {"1_.5"sv, std::nullopt},
    {"1._5"sv, std::nullopt},
    {"1e1_0"sv, std::optional<double>(0x1.2a05f20000000p+33)},
    {"1e_1"sv, std::nullopt},
    {"1_e1"sv, std::nullopt},
    {"0_0"sv, std::optional<double>(0.0)},
    {" 1_0 "sv, std::optional<double>(0x1.4000000000000p+3)},
    {"1_ "sv, std::nullopt},
    {""sv, std::nullopt},
    {" "sv, std::nullopt},
    {"."sv, std::nullopt},
    {"e5"sv, std::nullopt},
    {"1e"sv, std::nullopt},
    {"1e+"sv, std::nullopt},
    {"1e-"sv, std::nullopt},
    {"+"sv, std::nullopt},
    {"-"sv, std::nullopt},
    {"+-1"sv, std::nullopt},
    {"--1"sv, std::nullopt},
    {"0x10"sv, std::nullopt},
    {"0X1p3"sv, std::nullopt},
    {"1d5"sv, std::nullopt},
    {"1f"sv, std::nullopt},
    {"1,5"sv, std::nullopt},
    {"1 2"sv, std::nullopt},
    {"\0001"sv, std::nullopt},
    {"1\000"sv, std::nullopt},
    {"1\177"sv, std::nullopt},
    {"true"sv, std::nullopt},
    {"None"sv, std::nullopt},
    {"1e999"sv, std::optional<double>(kInf)},
    {"-1e999"sv, std::optional<double>(-kInf)},
    {"1e-999"sv, std::optional<double>(0.0)},
    {"-1e-999"sv, std::optional<double>(-0.0)},
    {"1e308"sv, std::optional<double>(0x1.1ccf385ebc8a0p+1023)},
    {"1.7976931348623157e308"sv, std::optional<double>(0x1.fffffffffffffp+1023)},
    {"1.7976931348623158e308"sv, std::optional<double>(0x1.fffffffffffffp+1023)},
    {"1.7976931348623159e308"sv, std::optional<double>(kInf)},
    {"4.9e-324"sv, std::optional<double>(0x0.0000000000001p-1022)},
    {"2.4703282292062327e-324"sv, std::optional<double>(0.0)},
    {"2.4703282292062328e-324"sv, std::optional<double>(0x0.0000000000001p-1022)},
    {"2.2250738585072014e-308"sv, std::optional<double>(0x1.0000000000000p-1022)},
    {"1e99999999999999999999"sv, std::optional<double>(kInf)},
    {"1e-99999999999999999999"sv, std::optional<double>(0.0)},
    {"0e99999999999999999999"sv, std::optional<double>(0.0)},
    {"0.000e999"sv, std::optional<double>(0.0)},
    {"100000000000000000000000000000000000000000000000000e-360"sv, std::optional<double>(0x0.012688b70e62bp-1022)},
    {"0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001e330"sv, std::optional<double>(0x1.999999999999ap-4)},
    {"9007199254740993"sv, std::optional<double>(0x1.0000000000000p+53)},
    {"9007199254740993.0000000000000000001"sv, std::optional<double>(0x1.0000000000001p+53)},
    {"0.1"sv, std::optional<double>(0x1.999999999999ap-4)},
    {"0.30000000000000004"sv, std::optional<double>(0x1.3333333333334p-2)},
    {"123456.789e-2"sv, std::optional<double>(0x1.34a4584f4c6e7p+10)},
    {"-.169815_00823_91_956"sv, std::optional<double>(-0x1.5bc7f8960efb8p-3)},
    {"-6634257947_7763229924462.e+5"sv, std::optional<double>(-0x1.56fbac3fd8be2p+92)},
    {"-28042178945962.7_52838823"sv, std::optional<double>(-0x1.981141d63aac1p+44)},
    {"1e99"sv, std::optional<double>(0x1.d42aea2879f2ep+328)},
    {"7"sv, std::optional<double>(0x1.c000000000000p+2)},
    {" 52960142495.31325109871397"sv, std::optional<double>(0x1.8a957493ea062p+35)},
    {"1.776931348623157308"sv, std::optional<double>(0x1.c6e4f90d92d9cp+0)},
    {"1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000e-400"sv, std::optional<double>(0x1.999999999999ap-4)},
    {"1e799"sv, std::optional<double>(kInf)},
    {"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977577207096330286416628879109465555478519404026306574886715058206819089202000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792"sv, std::optional<double>(0x1.fffffffffffffp+1023)},
    {"17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901797758720709633028641669288791094655554785194040263065748867150582068190891200070883676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792"sv, std::optional<double>(0x1.9999999999999p+1020)},
    {" 24830_5984136645088315250.36048920872611_8199314998e-2940"sv, std::optional<double>(0.0)},
    {"7701_2660376_4_56.40965_2_40e5_67"sv, std::optional<double>(kInf)},
    {"-\331\245.5e0\357\274\221"sv, std::optional<double>(-0x1.b800000000000p+5)},
    {"61_000.000_1"sv, std::optional<double>(0x1.dc90000d1b717p+15)},
    {" 43695"sv, std::optional<double>(0x1.555e000000000p+15)},
    {"61"sv, std::optional<double>(0x1.e800000000000p+5)},
    {"731940e-775"sv, std::optional<double>(0.0)},
    {"419e-324"sv, std::optional<double>(0x0.0000000000055p-1022)},
    {"55"sv, std::optional<double>(0x1.b800000000000p+5)},
    {"4e+28"sv, std::optional<double>(0x1.027e72f1f1281p+95)},
    {" 678e4"sv, std::optional<double>(0x1.9dd1800000000p+22)},
    {"6"sv, std::optional<double>(0x1.8000000000000p+2)},
    {"45"sv, std::optional<double>(0x1.6800000000000p+5)},
    {"8"sv, std::optional<double>(0x1.0000000000000p+3)},
    {" 1739505_48"sv, std::optional<double>(0x1.4bc8ca8000000p+27)},
    {"55463E-2"sv, std::optional<double>(0x1.1550a3d70a3d7p+9)},
    {"1.\331\245"sv, std::optional<double>(0x1.8000000000000p+0)},
    {" 1"sv, std::optional<double>(0x1.0000000000000p+0)},
    {"-1.\331\2455e10"sv, std::optional<double>(-0x1.cdef9d8000000p+33)},
    {"24e-324"sv, std::optional<double>(0x0.0000000000005p-1022)},
    {"+0647799023_39437.0924074051279555878726"sv, std::optional<double>(0x1.d755f88a4b68cp+45)},
    {"1_00\331\245.000_1"sv, std::optional<double>(0x1.f6800346dc5d6p+9)},
    {"+12e5_0"sv, std::optional<double>(0x1.9a896283d96e6p+169)},
    {"5\331\245"sv, std::optional<double>(0x1.b800000000000p+5)},
    {"6113.32259162896909170792343"sv, std::optional<double>(0x1.7e152955d7063p+12)},
    {"01"sv, std::optional<double>(0x1.0000000000000p+0)},
    {"999"sv, std::optional<double>(0x1.f380000000000p+9)},
    {"17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901797758720709633028641669288791094655554785194040263065748867150582068190890200070838676273854845817711531764475730270069855571366959622842914819860834936e475292719074168444365510704342711559699508093042880177904174497792"sv, std::optional<double>(kInf)},
    {"0.00000000000000000000000000000000\357\274\221\357\274\2210000000000000001e-300"sv, std::optional<double>(0.0)},
    {"-56176.0746896430_547e+37"sv, std::optional<double>(-0x1.9cb77419c9665p+138)},
    {"1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001000000000000000000000000000000e-400"sv, std::optional<double>(0x1.999999999999ap-4)},
    {"+4132762e-3"sv, std::optional<double>(0x1.024c3126e978dp+12)},
    {"4.92e-124"sv, std::optional<double>(0x1.4d0b97d505c12p-410)},
    {"994655815_60.887355889609531125e31"sv, std::optional<double>(0x1.6d60fbbed91eap+139)},
    {"4.9e-34"sv, std::optional<double>(0x1.45a92e0da3d73p-111)},
    {"+446742144.28171506363797678187"sv, std::optional<double>(0x1.aa0be80481e7ap+28)},
    {" 3_807_749718753_77E845"sv, std::optional<double>(kInf)},
    {" 340449_4_621_59319.0"sv, std::optional<double>(0x1.35a3114187d70p+48)},
    {"7411061_30504379802e+517"sv, std::optional<double>(kInf)},
    {"15"sv, std::optional<double>(0x1.e000000000000p+3)},
    {"+183125"sv, std::optional<double>(0x1.65aa800000000p+17)},
    {"45"sv, std::optional<double>(0x1.6800000000000p+5)},
    {"899_56092019_699839"sv, std::optional<double>(0x1.3f9696ce37708p+56)},
    {"-1.5e1\331\2450"sv, std::optional<double>(-0x1.d53cfc578e207p+498)},
    {"-1.510"sv, std::optional<double>(-0x1.828f5c28f5c29p+0)},
    {"8"sv, std::optional<double>(0x1.0000000000000p+3)},
    {"+74500992767_143216835820E-79"sv, std::optional<double>(0x1.761ec89fe990cp-187)},
    {"\0111"sv, std::optional<double>(0x1.0000000000000p+0)},
    {"0_7299214539282E63"sv, std::optional<double>(0x1.0233582a4964ep+252)},
    {"5"sv, std::optional<double>(0x1.4000000000000p+2)},
    {"-9163656249926907.972567166387"sv, std::optional<double>(-0x1.04725fdcf727ep+53)},
    {"+819337865_97462."sv, std::optional<double>(0x1.2a12c8fb21580p+46)},
    {"2.22150738585072014e-30"sv, std::optional<double>(0x1.6875ce7b1df62p-99)},
    {"\331\240.85e10"sv, std::optional<double>(0x1.faa3b50000000p+32)},
    {"\331\2451.5"sv, std::optional<double>(0x1.9c00000000000p+5)},
    {"-1"sv, std::optional<double>(-0x1.0000000000000p+0)},
    {"+90_0_75_1634414.0331"sv, std::optional<double>(0x1.a371f65fdc10fp+39)},
    {"\014nan"sv, std::optional<double>(kNaN)},
    {" 6137398.6117743638E2_6"sv, std::optional<double>(0x1.e427c7251246cp+108)},
    {"+48263031"sv, std::optional<double>(0x1.7037bb8000000p+25)},
    {"2.5e-324"sv, std::optional<double>(0x0.0000000000001p-1022)},
    {"+915828_93021404990.1_0168783139591"sv, std::optional<double>(0x1.455e27ee0b1f4p+56)},
    {" 7563517121516556304636121E84"sv, std::optional<double>(0x1.9c39d7b2e9aeep+361)},
    {"264226349652246.476386365558302E+2"sv, std::optional<double>(0x1.777cfc6c87332p+54)},
    {"1.7976931348\331\24523157e08"sv, std::optional<double>(0x1.56e1fc2f87046p+27)},
    {"10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000400000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000e-400"sv, std::optional<double>(0x1.0000000000000p+0)},
    {"\331\241\014"sv, std::optional<double>(0x1.0000000000000p+0)},
    {"+78867404304_3985006"sv, std::optional<double>(0x1.5e3ddba266a6dp+59)},
    {"12"sv, std::optional<double>(0x1.8000000000000p+3)},
    {"-9"sv, std::optional<double>(-0x1.2000000000000p+3)},
    {"+8"sv, std::optional<double>(0x1.0000000000000p+3)},
    {"-963756.440_9e-587"sv, std::optional<double>(-0.0)},
    {"9007199254740E993"sv, std::optional<double>(kInf)},
    {" 7828.891299565_61805104e-9697"sv, std::optional<double>(0.0)},
    {"53"sv, std::optional<double>(0x1.a800000000000p+5)},
    {"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671525820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792"sv, std::optional<double>(kInf)},
    {"1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\331\2450000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000e-400"sv, std::optional<double>(0x1.4000000000000p+3)},
    {"+056068505.948632e+19"sv, std::optional<double>(0x1.cfc9adfa901f2p+88)},
    {"\013.5"sv, std::optional<double>(0x1.0000000000000p-1)},
    {"-3536_704016_070446420.902_9720575278267798E79"sv, std::optional<double>(-0x1.08ec5a92f097cp+324)},
    {"1965"sv, std::optional<double>(0x1.eb40000000000p+10)},
    {"+7352901_107687e-1657"sv, std::optional<double>(0.0)},
    {"+5_6282522873408.8_4_403595703963369e+698"sv, std::optional<double>(kInf)},
    {"5\331\240\015"sv, std::optional<double>(0x1.9000000000000p+5)},
    {" 38367348_6796.299247914573422452_0052"sv, std::optional<double>(0x1.6552e33731327p+38)},
    {"923939013.49104495_7715494"sv, std::optional<double>(0x1.b891862beda90p+29)},
    {"15e10"sv, std::optional<double>(0x1.176592e000000p+37)},
    {"2.225738585072014e-308"sv, std::optional<double>(0x1.00139415f9029p-1022)},
    {"04274804082.264193991_808827_91152511e-1"sv, std::optional<double>(0x1.97ad55839f69fp+28)},
    {"4.9e-24"sv, std::optional<double>(0x1.7b1e7fc3b485ap-78)},
    {"5"sv, std::optional<double>(0x1.4000000000000p+2)},
    {"-44432288291_724_7352306"sv, std::optional<double>(-0x1.81637fbe3c402p+68)},
    {" 2010892432379987622843"sv, std::optional<double>(0x1.b40af43456e98p+70)},
    {"13"sv, std::optional<double>(0x1.a000000000000p+3)},
    {"-609161_605274_235.06120798_1e715"sv, std::optional<double>(-kInf)},
    {"+7131"sv, std::optional<double>(0x1.bdb0000000000p+12)},
    {"2.2250738585672014e-308"sv, std::optional<double>(0x1.000000001da61p-1022)},
    {"92349594.9_2672737062319489_504062e28"sv, std::optional<double>(0x1.63b7bb375a495p+119)},
    {" 06443489761842560432_66.80604499_286599"sv, std::optional<double>(0x1.17711b5f7589cp+69)},
    {"+1\302\205"sv, std::optional<double>(0x1.0000000000000p+0)},
    {" 066040630049306306E+347"sv, std::optional<double>(kInf)},
    {"06"sv, std::optional<double>(0x1.8000000000000p+2)},
    {"49.9e-324"sv, std::optional<double>(0x0.000000000000ap-1022)},
    {"8945_4652674"sv, std::optional<double>(0x1.4d3e9ad020000p+36)},
    {"-12_5843_278628051398252.8587122491764512"sv, std::optional<double>(-0x1.b49b48ca9ee0bp+66)},
    {"90071925472409E93"sv, std::optional<double>(0x1.3a2e8706527b0p+355)},
    {"+9_03_411"sv, std::optional<double>(0x1.b91e600000000p+19)},
    {"100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\357\274\2210000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000e-400"sv, std::optional<double>(0x1.0000000000000p+0)},
    {"77596896154317_34187e-6561"sv, std::optional<double>(0.0)},
    {"1e\0132\331\240"sv, std::nullopt},
    {"2.2250738585072\014014e-308"sv, std::nullopt},
    {"20.2\343\200\200E50738585072014e-308"sv, std::nullopt},
    {"\012.5e-n324"sv, std::nullopt},
    {"+0460555888479.933842_465800629452_E+7869"sv, std::nullopt},
    {"1_0_\012.000_1"sv, std::nullopt},
    {"y\302\2401\014\342\200\203"sv, std::nullopt},
    {"\0001\331\240"sv, std::nullopt},
    {"38653921_2_7752_12450527.19123__104939326308625e+7"sv, std::nullopt},
    {"2.f250738585072014-3\343\200\2008"sv, std::nullopt},
    {"t\034f"sv, std::nullopt},
    {"0IIIx"sv, std::nullopt},
    {"4.9e-32a4"sv, std::nullopt},
    {"7tinf"sv, std::nullopt},
    {"1_000.000_1f"sv, std::nullopt},
    {"y1.797693134866231597e308"sv, std::nullopt},
    {"N"sv, std::nullopt},
    {"\034NA\013yY"sv, std::nullopt},
    {"10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\012000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000e-400"sv, std::nullopt},
    {"Fi9"sv, std::nullopt},
    {"EnI5"sv, std::nullopt},
    {"2\0155e-32+"sv, std::nullopt},
    {"Enean4"sv, std::nullopt},
    {"1_100.N000_1"sv, std::nullopt},
    {"1e\01299"sv, std::nullopt},
    {"2.\331\2405e-32e"sv, std::nullopt},
    {"6taIi"sv, std::nullopt},
    {"ne999"sv, std::nullopt},
    {"3\331\240\034FA"sv, std::nullopt},
    {"4n"sv, std::nullopt},
    {"\014\343\200\200i\302\240"sv, std::nullopt},
    {"+041_0_72468._89_0988_"sv, std::nullopt},
    {"-Infini\343\200\200y"sv, std::nullopt},
    {"+_77080427942e097"sv, std::nullopt},
    {"-1.5ee0"sv, std::nullopt},
    {"1.797y931348623157eT3068"sv, std::nullopt},
    {"na\012n"sv, std::nullopt},
    {"x\012ye"sv, std::nullopt},
    {"2.22507 3858\331\2455072014e-308"sv, std::nullopt},
    {"+T49E\0143\013FT"sv, std::nullopt},
    {"n.79769313T48623157e308"sv, std::nullopt},
    {"1_000.\0130e00_\034"sv, std::nullopt},
    {"\011\302\205x"sv, std::nullopt},
    {"10000000000000000000000000000000000000A00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000-400"sv, std::nullopt},
    {"1.\0155"sv, std::nullopt},
    {"-_2402421276_344502535627e-_1"sv, std::nullopt},
    {"17976931348623158079372\014971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792"sv, std::nullopt},
    {"-In4finity"sv, std::nullopt},
    {"-_5.734035719422E+205"sv, std::nullopt},
    {"-63549__010164566926_5_0.6539721463334"sv, std::nullopt},
    {"10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\331\245000000f00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000e-400"sv, std::nullopt},
    {"n"sv, std::nullopt},
    {" _4772018637568832412e-7"sv, std::nullopt},
    {"i1\014\177"sv, std::nullopt},
    {"-InfiniIy5"sv, std::nullopt},
    {"-N\331\245"sv, std::nullopt},
    {"-_26_250_947_769722211.8430__330_482"sv, std::nullopt},
    {"e"sv, std::nullopt},
    {"12\012\034Ix8"sv, std::nullopt},
    {"na\0118"sv, std::nullopt},
    {"900719925474099y3"sv, std::nullopt},
    {".1ei99"sv, std::nullopt},
    {"1e_99"sv, std::nullopt},
    {"+964031_5_._69_9539564597831476e-90"sv, std::nullopt},
    {"N\014"sv, std::nullopt},
    {"  12 n"sv, std::nullopt},
    {"17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901797758720709633028641669288791094655554785194040263065748867150582068190890200047083836762738548458177115317644T573027006985557136695962284291481986083493647529271907416844436551070434271155969950809304288017f7904174497792"sv, std::nullopt},
    {"ie\302\240\357\274\22128n"sv, std::nullopt},
    {"0.00.000000E000000000000000000000000000000000000001e7-300"sv, std::nullopt},
    {"I3"sv, std::nullopt},
    {"8252_2578526144e+"sv, std::nullopt},
    {"100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\01400000000000000A00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\01500000e-400"sv, std::nullopt},
    {"Y\034N-+\331\245i"sv, std::nullopt},
    {"\034"sv, std::nullopt},
    {"-4963000151793683803453_.670912E"sv, std::nullopt},
    {"943_0__783_40_0378E+8"sv, std::nullopt},
    {".Y"sv, std::nullopt},
    {"\302\240F9t--\014"sv, std::nullopt},
    {"-In\331\2451finity"sv, std::nullopt},
    {"+N-3ni \331\245I"sv, std::nullopt},
};

TEST(PythonFloat, MatchesPythonFloatOfStrings) {
  for (const auto& c : kFloatStringCases) {
    auto got = python_float(Json(std::string(c.input)));
    EXPECT_TRUE(same_float(got, c.expected))
        << "input " << testing::PrintToString(std::string(c.input)) << " got " << describe(got)
        << " want " << describe(c.expected);
  }
}

struct FloatJsonCase {
  std::string_view json;
  std::optional<double> expected;
};

const FloatJsonCase kFloatJsonCases[] = {
    {R"(0)", std::optional<double>(0.0)},
    {R"(-0)", std::optional<double>(0.0)},
    {R"(1)", std::optional<double>(0x1.0000000000000p+0)},
    {R"(-1)", std::optional<double>(-0x1.0000000000000p+0)},
    {R"(true)", std::optional<double>(0x1.0000000000000p+0)},
    {R"(false)", std::optional<double>(0.0)},
    {R"(null)", std::nullopt},
    {R"({})", std::nullopt},
    {R"([])", std::nullopt},
    {R"([1])", std::nullopt},
    {R"({"a": 1})", std::nullopt},
    {R"(1.5)", std::optional<double>(0x1.8000000000000p+0)},
    {R"(-0.0)", std::optional<double>(-0.0)},
    {R"(1e308)", std::optional<double>(0x1.1ccf385ebc8a0p+1023)},
    {R"(1e-320)", std::optional<double>(0x0.00000000007e8p-1022)},
    {R"(9007199254740993)", std::optional<double>(0x1.0000000000000p+53)},
    {R"(18446744073709551615)", std::optional<double>(0x1.0000000000000p+64)},
    {R"(18446744073709551616)", std::optional<double>(0x1.0000000000000p+64)},
    {R"(-9223372036854775808)", std::optional<double>(-0x1.0000000000000p+63)},
    {R"(9223372036854775807)", std::optional<double>(0x1.0000000000000p+63)},
    {R"(123456789012345678901234567890)", std::optional<double>(0x1.8ee90ff6c373ep+96)},
    {R"(-123456789012345678901234567890)", std::optional<double>(-0x1.8ee90ff6c373ep+96)},
    {R"(3.141592653589793238462643383279)", std::optional<double>(0x1.921fb54442d18p+1)},
    {R"("12")", std::optional<double>(0x1.8000000000000p+3)},
    {R"(" -1.5e3 ")", std::optional<double>(-0x1.7700000000000p+10)},
    {R"("nan")", std::optional<double>(kNaN)},
    {R"("x")", std::nullopt},
    {R"("")", std::nullopt},
};

TEST(PythonFloat, MatchesPythonFloatOfJsonValues) {
  for (const auto& c : kFloatJsonCases) {
    auto got = python_float(Json::parse(c.json));
    EXPECT_TRUE(same_float(got, c.expected))
        << c.json << " got " << describe(got) << " want " << describe(c.expected);
  }
}

TEST(PythonFloat, ReadsTheDocumentedForms) {
  EXPECT_EQ(python_float(Json(true)), 1.0);
  EXPECT_EQ(python_float(Json(false)), 0.0);
  EXPECT_EQ(python_float(Json(" \t1_000.5e-1\n")), 100.05);
  EXPECT_EQ(python_float(Json("-InFiNiTy")), -kInf);
  EXPECT_EQ(python_float(Json("1e999")), kInf);
  EXPECT_TRUE(std::isnan(*python_float(Json("nan"))));
  EXPECT_EQ(python_float(Json("\u00a07\u3000")), 7.0);  // Unicode spaces are stripped
  EXPECT_EQ(python_float(Json("\u0667")), 7.0);         // ARABIC-INDIC DIGIT SEVEN
  EXPECT_EQ(python_float(Json("0x10")), std::nullopt);
  EXPECT_EQ(python_float(Json("")), std::nullopt);
  EXPECT_EQ(python_float(Json("1__0")), std::nullopt);
  EXPECT_EQ(python_float(Json("\x1c" "1")), std::nullopt);  // str.strip() would strip it, float() doesn't
  EXPECT_EQ(python_float(Json(nullptr)), std::nullopt);
  EXPECT_EQ(python_float(Json::array({1})), std::nullopt);
  EXPECT_EQ(python_float(Json::object({{"a", 1}})), std::nullopt);
}

struct OptionsCase {
  std::string_view message;
  std::optional<double> order;
  std::string_view order_key_json;
  std::optional<double> throttle;
  std::string_view throttle_key_json;
};

const OptionsCase kOptionsCases[] = {
    {R"({})", std::nullopt, R"(null)", std::nullopt, R"(null)"},
    {R"({"options": {}})", std::nullopt, R"(null)", std::nullopt, R"(null)"},
    {R"({"options": {"order": 5}})", std::optional<double>(0x1.4000000000000p+2), R"(null)", std::nullopt, R"(null)"},
    {R"({"options": {"order": "5", "order_key": "a"}})", std::optional<double>(0x1.4000000000000p+2), R"("a")", std::nullopt, R"(null)"},
    {R"({"options": {"order": null, "order_key": "a"}})", std::nullopt, R"(null)", std::nullopt, R"(null)"},
    {R"({"options": {"order": "x", "order_key": "a"}})", std::nullopt, R"(null)", std::nullopt, R"(null)"},
    {R"({"options": {"order": [1], "order_key": "a"}})", std::nullopt, R"(null)", std::nullopt, R"(null)"},
    {R"({"options": {"order": true, "order_key": 3}})", std::optional<double>(0x1.0000000000000p+0), R"(3)", std::nullopt, R"(null)"},
    {R"({"options": {"order_key": "a"}})", std::nullopt, R"(null)", std::nullopt, R"(null)"},
    {R"({"options": {"throttle": 0.5}})", std::nullopt, R"(null)", std::optional<double>(0x1.0000000000000p-1), R"(null)"},
    {R"({"options": {"throttle": "1_0", "throttle_key": "k"}})", std::nullopt, R"(null)", std::optional<double>(0x1.4000000000000p+3), R"("k")"},
    {R"({"options": {"throttle": {}, "throttle_key": "k"}})", std::nullopt, R"(null)", std::nullopt, R"(null)"},
    {R"({"options": {"order": 1, "order_key": null, "throttle": " inf ", "throttle_key": [1, 2]}})", std::optional<double>(0x1.0000000000000p+0), R"(null)", std::optional<double>(kInf), R"([1, 2])"},
    {R"({"options": {"order": "-Infinity", "order_key": {"b": 1, "a": 2}}})", std::optional<double>(-kInf), R"({"b": 1, "a": 2})", std::nullopt, R"(null)"},
    {R"({"options": {"order": "NaN", "throttle": false}})", std::optional<double>(kNaN), R"(null)", std::optional<double>(0.0), R"(null)"},
    {R"({"options": {"order": 12345678901234567890123, "order_key": 1.0}})", std::optional<double>(0x1.4ea15b273b38ap+73), R"(1.0)", std::nullopt, R"(null)"},
    {R"({"options": {"order": "1e999"}})", std::optional<double>(kInf), R"(null)", std::nullopt, R"(null)"},
    {R"({"options": {"order": "0x10", "throttle": "", "throttle_key": "z"}})", std::nullopt, R"(null)", std::nullopt, R"(null)"},
    {R"({"options": {"order": 2.5, "order_key": ""}})", std::optional<double>(0x1.4000000000000p+1), R"("")", std::nullopt, R"(null)"},
};

TEST(ParseOptions, MatchesSocketSharkGetOptions) {
  for (const auto& c : kOptionsCases) {
    MessageOptions options = parse_options(Json::parse(c.message));
    EXPECT_TRUE(same_float(options.order, c.order)) << c.message;
    EXPECT_EQ(options.order_key, key_of(Json::parse(c.order_key_json))) << c.message;
    EXPECT_TRUE(same_float(options.throttle, c.throttle)) << c.message;
    EXPECT_EQ(options.throttle_key, key_of(Json::parse(c.throttle_key_json))) << c.message;
  }
}

TEST(ParseOptions, KeysAreNullWhenAbsentOrWhenTheValueIsUnreadable) {
  MessageOptions none = parse_options(Json::parse(R"({"subscription":"a.b","data":{}})"));
  EXPECT_EQ(none.order, std::nullopt);
  EXPECT_EQ(none.order_key, "null");
  EXPECT_EQ(none.throttle, std::nullopt);
  EXPECT_EQ(none.throttle_key, "null");

  // SocketShark reads order_key only once order parsed.
  MessageOptions unreadable = parse_options(Json::parse(R"({"options":{"order":"soon","order_key":"k"}})"));
  EXPECT_EQ(unreadable.order, std::nullopt);
  EXPECT_EQ(unreadable.order_key, "null");

  MessageOptions both = parse_options(
      Json::parse(R"({"options":{"order":"3","order_key":"k","throttle":0.25,"throttle_key":[1]}})"));
  EXPECT_EQ(both.order, 3.0);
  EXPECT_EQ(both.order_key, R"("k")");
  EXPECT_EQ(both.throttle, 0.25);
  EXPECT_EQ(both.throttle_key, "[1]");
}

TEST(ParseOptions, NonObjectOptionsMeanNoOptions) {
  for (const char* message : {R"({"options":"order throttle"})", R"({"options":["order","throttle"]})",
                              R"({"options":5})", R"({"options":null})", R"({"options":true})"}) {
    MessageOptions options = parse_options(Json::parse(message));
    EXPECT_EQ(options.order, std::nullopt) << message;
    EXPECT_EQ(options.throttle, std::nullopt) << message;
    EXPECT_EQ(options.order_key, "null") << message;
  }
  EXPECT_EQ(parse_options(Json::parse("[1,2]")).order, std::nullopt);
  EXPECT_EQ(parse_options(Json(nullptr)).throttle, std::nullopt);
}

TEST(KeyOf, IsTheCompactDump) {
  EXPECT_EQ(key_of(Json(nullptr)), "null");
  EXPECT_EQ(key_of(Json("a b")), R"("a b")");
  EXPECT_EQ(key_of(Json::parse(R"({"b": [1, "x"], "a": null})")), R"({"b":[1,"x"],"a":null})");
  EXPECT_EQ(key_of(Json(2.5)), "2.5");
  EXPECT_EQ(key_of(Json(-7)), "-7");
}

struct KeyCase {
  std::string_view left;
  std::string_view right;
  bool same_key;
};

const KeyCase kKeyCases[] = {
    {R"(null)", R"(true)", false},
    {R"(null)", R"(false)", false},
    {R"(null)", R"(1)", false},
    {R"(null)", R"(1.0)", false},
    {R"(null)", R"(0)", false},
    {R"(null)", R"(-0.0)", false},
    {R"(null)", R"(-1)", false},
    {R"(null)", R"(-1.0)", false},
    {R"(null)", R"(2.5)", false},
    {R"(null)", R"("1")", false},
    {R"(null)", R"("true")", false},
    {R"(null)", R"("null")", false},
    {R"(null)", R"("")", false},
    {R"(null)", R"(9007199254740992)", false},
    {R"(null)", R"(9007199254740992.0)", false},
    {R"(null)", R"(9007199254740993)", false},
    {R"(null)", R"(10000000000000000000)", false},
    {R"(null)", R"(1e19)", false},
    {R"(null)", R"("a")", false},
    {R"(true)", R"(false)", false},
    {R"(true)", R"(1)", true},
    {R"(true)", R"(1.0)", true},
    {R"(true)", R"(0)", false},
    {R"(true)", R"(-0.0)", false},
    {R"(true)", R"(-1)", false},
    {R"(true)", R"(-1.0)", false},
    {R"(true)", R"(2.5)", false},
    {R"(true)", R"("1")", false},
    {R"(true)", R"("true")", false},
    {R"(true)", R"("null")", false},
    {R"(true)", R"("")", false},
    {R"(true)", R"(9007199254740992)", false},
    {R"(true)", R"(9007199254740992.0)", false},
    {R"(true)", R"(9007199254740993)", false},
    {R"(true)", R"(10000000000000000000)", false},
    {R"(true)", R"(1e19)", false},
    {R"(true)", R"("a")", false},
    {R"(false)", R"(1)", false},
    {R"(false)", R"(1.0)", false},
    {R"(false)", R"(0)", true},
    {R"(false)", R"(-0.0)", true},
    {R"(false)", R"(-1)", false},
    {R"(false)", R"(-1.0)", false},
    {R"(false)", R"(2.5)", false},
    {R"(false)", R"("1")", false},
    {R"(false)", R"("true")", false},
    {R"(false)", R"("null")", false},
    {R"(false)", R"("")", false},
    {R"(false)", R"(9007199254740992)", false},
    {R"(false)", R"(9007199254740992.0)", false},
    {R"(false)", R"(9007199254740993)", false},
    {R"(false)", R"(10000000000000000000)", false},
    {R"(false)", R"(1e19)", false},
    {R"(false)", R"("a")", false},
    {R"(1)", R"(1.0)", true},
    {R"(1)", R"(0)", false},
    {R"(1)", R"(-0.0)", false},
    {R"(1)", R"(-1)", false},
    {R"(1)", R"(-1.0)", false},
    {R"(1)", R"(2.5)", false},
    {R"(1)", R"("1")", false},
    {R"(1)", R"("true")", false},
    {R"(1)", R"("null")", false},
    {R"(1)", R"("")", false},
    {R"(1)", R"(9007199254740992)", false},
    {R"(1)", R"(9007199254740992.0)", false},
    {R"(1)", R"(9007199254740993)", false},
    {R"(1)", R"(10000000000000000000)", false},
    {R"(1)", R"(1e19)", false},
    {R"(1)", R"("a")", false},
    {R"(1.0)", R"(0)", false},
    {R"(1.0)", R"(-0.0)", false},
    {R"(1.0)", R"(-1)", false},
    {R"(1.0)", R"(-1.0)", false},
    {R"(1.0)", R"(2.5)", false},
    {R"(1.0)", R"("1")", false},
    {R"(1.0)", R"("true")", false},
    {R"(1.0)", R"("null")", false},
    {R"(1.0)", R"("")", false},
    {R"(1.0)", R"(9007199254740992)", false},
    {R"(1.0)", R"(9007199254740992.0)", false},
    {R"(1.0)", R"(9007199254740993)", false},
    {R"(1.0)", R"(10000000000000000000)", false},
    {R"(1.0)", R"(1e19)", false},
    {R"(1.0)", R"("a")", false},
    {R"(0)", R"(-0.0)", true},
    {R"(0)", R"(-1)", false},
    {R"(0)", R"(-1.0)", false},
    {R"(0)", R"(2.5)", false},
    {R"(0)", R"("1")", false},
    {R"(0)", R"("true")", false},
    {R"(0)", R"("null")", false},
    {R"(0)", R"("")", false},
    {R"(0)", R"(9007199254740992)", false},
    {R"(0)", R"(9007199254740992.0)", false},
    {R"(0)", R"(9007199254740993)", false},
    {R"(0)", R"(10000000000000000000)", false},
    {R"(0)", R"(1e19)", false},
    {R"(0)", R"("a")", false},
    {R"(-0.0)", R"(-1)", false},
    {R"(-0.0)", R"(-1.0)", false},
    {R"(-0.0)", R"(2.5)", false},
    {R"(-0.0)", R"("1")", false},
    {R"(-0.0)", R"("true")", false},
    {R"(-0.0)", R"("null")", false},
    {R"(-0.0)", R"("")", false},
    {R"(-0.0)", R"(9007199254740992)", false},
    {R"(-0.0)", R"(9007199254740992.0)", false},
    {R"(-0.0)", R"(9007199254740993)", false},
    {R"(-0.0)", R"(10000000000000000000)", false},
    {R"(-0.0)", R"(1e19)", false},
    {R"(-0.0)", R"("a")", false},
    {R"(-1)", R"(-1.0)", true},
    {R"(-1)", R"(2.5)", false},
    {R"(-1)", R"("1")", false},
    {R"(-1)", R"("true")", false},
    {R"(-1)", R"("null")", false},
    {R"(-1)", R"("")", false},
    {R"(-1)", R"(9007199254740992)", false},
    {R"(-1)", R"(9007199254740992.0)", false},
    {R"(-1)", R"(9007199254740993)", false},
    {R"(-1)", R"(10000000000000000000)", false},
    {R"(-1)", R"(1e19)", false},
    {R"(-1)", R"("a")", false},
    {R"(-1.0)", R"(2.5)", false},
    {R"(-1.0)", R"("1")", false},
    {R"(-1.0)", R"("true")", false},
    {R"(-1.0)", R"("null")", false},
    {R"(-1.0)", R"("")", false},
    {R"(-1.0)", R"(9007199254740992)", false},
    {R"(-1.0)", R"(9007199254740992.0)", false},
    {R"(-1.0)", R"(9007199254740993)", false},
    {R"(-1.0)", R"(10000000000000000000)", false},
    {R"(-1.0)", R"(1e19)", false},
    {R"(-1.0)", R"("a")", false},
    {R"(2.5)", R"("1")", false},
    {R"(2.5)", R"("true")", false},
    {R"(2.5)", R"("null")", false},
    {R"(2.5)", R"("")", false},
    {R"(2.5)", R"(9007199254740992)", false},
    {R"(2.5)", R"(9007199254740992.0)", false},
    {R"(2.5)", R"(9007199254740993)", false},
    {R"(2.5)", R"(10000000000000000000)", false},
    {R"(2.5)", R"(1e19)", false},
    {R"(2.5)", R"("a")", false},
    {R"("1")", R"("true")", false},
    {R"("1")", R"("null")", false},
    {R"("1")", R"("")", false},
    {R"("1")", R"(9007199254740992)", false},
    {R"("1")", R"(9007199254740992.0)", false},
    {R"("1")", R"(9007199254740993)", false},
    {R"("1")", R"(10000000000000000000)", false},
    {R"("1")", R"(1e19)", false},
    {R"("1")", R"("a")", false},
    {R"("true")", R"("null")", false},
    {R"("true")", R"("")", false},
    {R"("true")", R"(9007199254740992)", false},
    {R"("true")", R"(9007199254740992.0)", false},
    {R"("true")", R"(9007199254740993)", false},
    {R"("true")", R"(10000000000000000000)", false},
    {R"("true")", R"(1e19)", false},
    {R"("true")", R"("a")", false},
    {R"("null")", R"("")", false},
    {R"("null")", R"(9007199254740992)", false},
    {R"("null")", R"(9007199254740992.0)", false},
    {R"("null")", R"(9007199254740993)", false},
    {R"("null")", R"(10000000000000000000)", false},
    {R"("null")", R"(1e19)", false},
    {R"("null")", R"("a")", false},
    {R"("")", R"(9007199254740992)", false},
    {R"("")", R"(9007199254740992.0)", false},
    {R"("")", R"(9007199254740993)", false},
    {R"("")", R"(10000000000000000000)", false},
    {R"("")", R"(1e19)", false},
    {R"("")", R"("a")", false},
    {R"(9007199254740992)", R"(9007199254740992.0)", true},
    {R"(9007199254740992)", R"(9007199254740993)", false},
    {R"(9007199254740992)", R"(10000000000000000000)", false},
    {R"(9007199254740992)", R"(1e19)", false},
    {R"(9007199254740992)", R"("a")", false},
    {R"(9007199254740992.0)", R"(9007199254740993)", false},
    {R"(9007199254740992.0)", R"(10000000000000000000)", false},
    {R"(9007199254740992.0)", R"(1e19)", false},
    {R"(9007199254740992.0)", R"("a")", false},
    {R"(9007199254740993)", R"(10000000000000000000)", false},
    {R"(9007199254740993)", R"(1e19)", false},
    {R"(9007199254740993)", R"("a")", false},
    {R"(10000000000000000000)", R"(1e19)", true},
    {R"(10000000000000000000)", R"("a")", false},
    {R"(1e19)", R"("a")", false},
};

// Python dict keys that compare equal share order and throttle state:
// True, 1 and 1.0 are one key; "1" is another.
TEST(KeyOf, SameKeyExactlyWhenPythonDictKeysAreEqual) {
  for (const auto& c : kKeyCases) {
    EXPECT_EQ(key_of(Json::parse(c.left)) == key_of(Json::parse(c.right)), c.same_key)
        << c.left << " vs " << c.right;
  }
}

}  // namespace
}  // namespace socketshark::routing
