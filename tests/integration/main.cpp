#define BOOST_TEST_MODULE synergy_tokend_integration
#include <boost/test/unit_test.hpp>
