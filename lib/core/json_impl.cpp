// The one translation unit that compiles Boost.JSON, for the core library and everything that
// links it (see CMakeLists.txt): no shared libboost_json, which would load the shared libstdc++.
#include <boost/json/src.hpp>
