// The one translation unit that compiles Asio, Asio's SSL support and Beast (see CMakeLists.txt;
// Boost.JSON is compiled in the core library, lib/core/src/json_impl.cpp).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
