// Asio and Beast compiled once for the whole program (separate compilation):
// every other translation unit includes only declarations, which keeps the
// build within CI's two cores.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
