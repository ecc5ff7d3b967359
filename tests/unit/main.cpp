#define BOOST_TEST_MODULE synergy_tokend_unit
#include <boost/test/unit_test.hpp>
