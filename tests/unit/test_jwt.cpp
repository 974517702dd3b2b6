// JWT verification: signature, algorithms (never `none`), exp/nbf with leeway, aud, iss, claim mapping.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <jwt/jwt.hpp>

#include "socketshark/auth/jwt_verifier.hpp"

using namespace socketshark;
using Clock = std::chrono::system_clock;

namespace {

config::JwtAuth hs256(std::string secret = "s3cret") {
  config::JwtAuth settings;
  settings.secret = std::move(secret);
  settings.algorithms = {"HS256"};
  settings.leeway = 30;
  settings.auth_fields = {{"user_id", "user_id"}};
  return settings;
}

std::string make_token(const std::string& algorithm, const std::string& key,
                       const std::vector<std::pair<std::string, std::string>>& claims,
                       std::optional<Clock::time_point> exp = Clock::now() + std::chrono::minutes(5),
                       std::optional<Clock::time_point> nbf = std::nullopt) {
  jwt::jwt_object object{jwt::params::algorithm(algorithm), jwt::params::secret(key)};
  for (auto& [name, value] : claims) object.add_claim(name, value);
  if (exp) object.add_claim("exp", *exp);
  if (nbf) object.add_claim("nbf", *nbf);
  return object.signature();
}

std::string base64url(const std::string& text) {
  std::string encoded = jwt::base64_encode(text.data(), text.size());
  encoded.resize(jwt::base64_uri_encode(encoded.data(), encoded.size()));  // in place: url alphabet, no padding
  return encoded;
}

}  // namespace

TEST(Jwt, ValidTokenSetsAuthInfoFromClaims) {
  auto settings = hs256();
  auth::JwtVerifier verifier(settings);
  auto result = verifier.verify(make_token("HS256", "s3cret", {{"user_id", "42"}}));
  ASSERT_TRUE(result.auth_info) << result.error;
  EXPECT_EQ(*result.auth_info, Json::parse(R"({"user_id":"42"})"));
}

TEST(Jwt, ClaimsCanBeMappedToOtherFieldNames) {
  auto settings = hs256();
  settings.auth_fields = {{"session_id", "sub"}, {"user_id", "user_id"}};
  auth::JwtVerifier verifier(settings);
  auto result = verifier.verify(make_token("HS256", "s3cret", {{"user_id", "7"}, {"sub", "abc"}}));
  ASSERT_TRUE(result.auth_info) << result.error;
  EXPECT_EQ(*result.auth_info, Json::parse(R"({"session_id":"abc","user_id":"7"})"));
}

TEST(Jwt, MissingClaimIsRefused) {
  auto settings = hs256();
  auth::JwtVerifier verifier(settings);
  EXPECT_FALSE(verifier.verify(make_token("HS256", "s3cret", {{"other", "1"}})).auth_info);
}

TEST(Jwt, WrongSignatureIsRefused) {
  auto settings = hs256();
  auth::JwtVerifier verifier(settings);
  EXPECT_FALSE(verifier.verify(make_token("HS256", "not-the-secret", {{"user_id", "1"}})).auth_info);
}

TEST(Jwt, ExpiredTokenIsRefusedBeyondLeeway) {
  auto settings = hs256();
  auth::JwtVerifier verifier(settings);
  EXPECT_FALSE(verifier.verify(make_token("HS256", "s3cret", {{"user_id", "1"}}, Clock::now() - std::chrono::minutes(5)))
                   .auth_info);
  // 10 s past exp is within the 30 s leeway.
  EXPECT_TRUE(verifier.verify(make_token("HS256", "s3cret", {{"user_id", "1"}}, Clock::now() - std::chrono::seconds(10)))
                  .auth_info);
}

TEST(Jwt, NotYetValidTokenIsRefused) {
  auto settings = hs256();
  auth::JwtVerifier verifier(settings);
  EXPECT_FALSE(verifier
                   .verify(make_token("HS256", "s3cret", {{"user_id", "1"}}, Clock::now() + std::chrono::hours(2),
                                      Clock::now() + std::chrono::hours(1)))
                   .auth_info);
}

TEST(Jwt, AudienceAndIssuerAreCheckedWhenConfigured) {
  auto settings = hs256();
  settings.audience = "chat";
  settings.issuer = "auth.example";
  auth::JwtVerifier verifier(settings);
  EXPECT_TRUE(verifier.verify(make_token("HS256", "s3cret", {{"user_id", "1"}, {"aud", "chat"}, {"iss", "auth.example"}}))
                  .auth_info);
  EXPECT_FALSE(verifier.verify(make_token("HS256", "s3cret", {{"user_id", "1"}, {"aud", "other"}, {"iss", "auth.example"}}))
                   .auth_info);
  EXPECT_FALSE(verifier.verify(make_token("HS256", "s3cret", {{"user_id", "1"}, {"aud", "chat"}, {"iss", "evil"}}))
                   .auth_info);
}

TEST(Jwt, AlgorithmOutsideTheListIsRefused) {
  auto settings = hs256();
  auth::JwtVerifier verifier(settings);
  EXPECT_FALSE(verifier.verify(make_token("HS384", "s3cret", {{"user_id", "1"}})).auth_info);
}

TEST(Jwt, AlgNoneIsNeverAccepted) {
  auto settings = hs256();
  auth::JwtVerifier verifier(settings);
  const auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                       (Clock::now() + std::chrono::minutes(5)).time_since_epoch()).count();
  std::string unsigned_token = base64url(R"({"alg":"none","typ":"JWT"})") + "." +
                               base64url(R"({"user_id":"1","exp":)" + std::to_string(exp) + "}") + ".";
  EXPECT_FALSE(verifier.verify(unsigned_token).auth_info);
  EXPECT_FALSE(verifier.verify(unsigned_token.substr(0, unsigned_token.size() - 1)).auth_info);
}

TEST(Jwt, GarbageIsRefusedWithoutThrowing) {
  auto settings = hs256();
  auth::JwtVerifier verifier(settings);
  for (const char* junk : {"", "a", "a.b", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.eyJ9.x", "\xff\xfe.\x01.\x02"})
    EXPECT_FALSE(verifier.verify(junk).auth_info) << junk;
}

TEST(Jwt, BytesOutsideBase64AreRefusedBeforeDecoding) {
  // cpp-jwt's decoder would index its table with a negative char.
  auto settings = hs256();
  auth::JwtVerifier verifier(settings);
  for (const char* junk : {"\xff\xfe.\x01.\x02", "eyJhbGciOiJIUzI1NiJ9.eyJ\x80.x", "a b.c.d", "a.b.c\n"}) {
    auto result = verifier.verify(junk);
    EXPECT_FALSE(result.auth_info) << junk;
    EXPECT_EQ(result.error, "malformed token") << junk;
  }
}

TEST(Jwt, OverlongTokensAreRefusedBeforeParsing) {
  auto settings = hs256();
  auth::JwtVerifier verifier(settings);
  const auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                       (Clock::now() + std::chrono::minutes(5)).time_since_epoch()).count();
  // A deeply nested payload must never reach the JSON parser.
  std::string nested = std::string(100000, '[') + std::string(100000, ']');
  std::string token = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." +
                      base64url(R"({"user_id":"1","exp":)" + std::to_string(exp) + R"(,"x":)" + nested + "}") + ".sig";
  auto result = verifier.verify(token);
  EXPECT_FALSE(result.auth_info);
  EXPECT_EQ(result.error, "token too long");
}

TEST(Jwt, Rs256WithPublicKeyFile) {
  auto dir = std::filesystem::temp_directory_path() / ("jwt-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto key = (dir / "key.pem").string(), pub = (dir / "pub.pem").string(), other = (dir / "other.pem").string();
  ASSERT_EQ(std::system(("openssl genrsa -out " + key + " 2048 2>/dev/null && openssl rsa -in " + key +
                         " -pubout -out " + pub + " 2>/dev/null && openssl genrsa -out " + other + " 2048 2>/dev/null")
                            .c_str()),
            0);
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  config::JwtAuth settings;
  settings.public_key = read(pub);
  settings.algorithms = {"RS256"};
  settings.auth_fields = {{"user_id", "user_id"}};
  auth::JwtVerifier verifier(settings);
  EXPECT_TRUE(verifier.verify(make_token("RS256", read(key), {{"user_id", "9"}})).auth_info);
  EXPECT_FALSE(verifier.verify(make_token("RS256", read(other), {{"user_id", "9"}})).auth_info);
  std::filesystem::remove_all(dir);
}

TEST(HandshakeToken, SubprotocolIsPreferredOverQuery) {
  auto token = auth::token_from_handshake("bearer, abc.def.ghi", "/ws?token=zzz");
  ASSERT_TRUE(token);
  EXPECT_EQ(token->token, "abc.def.ghi");
  EXPECT_TRUE(token->via_subprotocol);
}

TEST(HandshakeToken, QueryTokenIsPercentDecoded) {
  auto token = auth::token_from_handshake("", "/?a=1&token=ab%2Ecd");
  ASSERT_TRUE(token);
  EXPECT_EQ(token->token, "ab.cd");
  EXPECT_FALSE(token->via_subprotocol);
}

TEST(HandshakeToken, NoTokenAnywhere) {
  EXPECT_FALSE(auth::token_from_handshake("chat", "/"));
  EXPECT_FALSE(auth::token_from_handshake("bearer", "/?tokens=1"));
}
