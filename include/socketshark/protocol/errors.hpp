// Byte-exact error texts (SPEC §1, §7): clients match on them.
#pragma once

namespace socketshark::protocol::errors {

inline constexpr const char* invalid_event = "Messages must be JSON and contain an event field.";
inline constexpr const char* unhandled = "Unhandled exception.";
inline constexpr const char* unknown_event = "Event not found.";
inline constexpr const char* service_unavailable = "Service unavailable.";
inline constexpr const char* auth_method = "Authentication method unsupported.";
inline constexpr const char* unauthorized = "Unauthorized.";
inline constexpr const char* needs_ticket = "Must specify ticket.";
inline constexpr const char* auth_failed = "Authentication failed.";
inline constexpr const char* auth_required = "Authentication required.";
inline constexpr const char* bad_subscription = "Invalid subscription format.";
inline constexpr const char* bad_service = "Invalid service.";
inline constexpr const char* already_subscribed = "Already subscribed.";
inline constexpr const char* not_subscribed = "Subscription does not exist.";
inline constexpr const char* too_many_subscriptions = "Too many subscriptions.";
inline constexpr const char* rate_limited = "Rate limit exceeded.";

}  // namespace socketshark::protocol::errors

namespace socketshark::protocol::close_codes {
inline constexpr unsigned short normal = 1000;
inline constexpr unsigned short going_away = 1001;
inline constexpr unsigned short policy_violation = 1008;  // client cannot keep up
inline constexpr unsigned short too_big = 1009;
inline constexpr unsigned short service_restart = 1012;  // broker lost
inline constexpr unsigned short unauthorized = 4401;
inline constexpr unsigned short ping_timeout = 4408;
inline constexpr unsigned short too_many = 4429;
}  // namespace socketshark::protocol::close_codes
