// The one translation unit that compiles Asio, Asio's SSL support, Beast and Boost.JSON (see
// CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <boost/json/src.hpp>
