// The local parser's framing rule (PRODUCT.md §6): which request headers may be followed by a
// body at all. Pure; the wire behaviour is in tests/integration/local_wire_test.cpp.
#include "synergy_tokend/request_policy.hpp"

#include <ostream>
#include <set>
#include <string>

#include <boost/test/unit_test.hpp>

namespace st = synergy_tokend;

namespace synergy_tokend {
std::ostream& operator<<(std::ostream& out, framing_verdict v) {
    return out << describe(v);
}
} // namespace synergy_tokend

namespace {

st::framing_facts with_transfer_encoding(std::string_view value, std::size_t fields = 1) {
    st::framing_facts f;
    f.host_fields = 1;
    f.transfer_encoding_fields = fields;
    f.transfer_encoding = value;
    return f;
}

} // namespace

BOOST_AUTO_TEST_SUITE(request_policy)

BOOST_AUTO_TEST_CASE(only_the_one_coding_chunked_is_allowed) {
    struct row {
        const char* value;
        st::framing_verdict expected;
    };
    const row rows[] = {
        {"chunked", st::framing_verdict::allow},
        {"Chunked", st::framing_verdict::allow},
        {"CHUNKED", st::framing_verdict::allow},
        {" chunked\t", st::framing_verdict::allow},
        // Each of these Beast reads as no body at all: the body would be the next request.
        {"xchunked", st::framing_verdict::transfer_encoding_not_chunked},
        {"chunkedx", st::framing_verdict::transfer_encoding_not_chunked},
        {"gzip", st::framing_verdict::transfer_encoding_not_chunked},
        {"identity", st::framing_verdict::transfer_encoding_not_chunked},
        {"chunked, identity", st::framing_verdict::transfer_encoding_not_chunked},
        {"chunked, chunked", st::framing_verdict::transfer_encoding_not_chunked},
        {"", st::framing_verdict::transfer_encoding_not_chunked},
        {"chunked;q=1", st::framing_verdict::transfer_encoding_not_chunked},
        {"\"chunked\"", st::framing_verdict::transfer_encoding_not_chunked},
        // A final chunked after a coding the daemon does not decode.
        {"gzip, chunked", st::framing_verdict::transfer_encoding_not_chunked},
        {", chunked", st::framing_verdict::transfer_encoding_not_chunked},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("Transfer-Encoding: [" << r.value << "]") {
            BOOST_CHECK_EQUAL(st::check_framing(with_transfer_encoding(r.value)), r.expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_repeated_transfer_encoding_is_refused_whatever_its_values) {
    // The value given is the first field's; "chunked" then "chunked", or "gzip" then "chunked".
    for (const char* first : {"chunked", "gzip", "identity"}) {
        BOOST_TEST_CONTEXT("first Transfer-Encoding: " << first) {
            BOOST_CHECK_EQUAL(st::check_framing(with_transfer_encoding(first, 2)),
                              st::framing_verdict::transfer_encoding_not_chunked);
            BOOST_CHECK_EQUAL(st::check_framing(with_transfer_encoding(first, 3)),
                              st::framing_verdict::transfer_encoding_not_chunked);
        }
    }
}

BOOST_AUTO_TEST_CASE(transfer_encoding_with_content_length_or_in_http10_is_refused) {
    for (const char* value : {"chunked", "gzip"}) {
        BOOST_TEST_CONTEXT("Transfer-Encoding: " << value) {
            auto both = with_transfer_encoding(value);
            both.has_content_length = true;
            BOOST_CHECK_EQUAL(st::check_framing(both),
                              st::framing_verdict::transfer_encoding_with_content_length);
            auto old = with_transfer_encoding(value);
            old.version = 10;
            BOOST_CHECK_EQUAL(st::check_framing(old),
                              st::framing_verdict::transfer_encoding_in_http10);
        }
    }
}

BOOST_AUTO_TEST_CASE(requests_without_transfer_encoding_are_allowed) {
    st::framing_facts plain;
    BOOST_CHECK_EQUAL(st::check_framing(plain), st::framing_verdict::allow); // no Host at all
    plain.host_fields = 1;
    BOOST_CHECK_EQUAL(st::check_framing(plain), st::framing_verdict::allow);
    plain.has_content_length = true;
    BOOST_CHECK_EQUAL(st::check_framing(plain), st::framing_verdict::allow);
    plain.version = 10;
    BOOST_CHECK_EQUAL(st::check_framing(plain), st::framing_verdict::allow);
}

BOOST_AUTO_TEST_CASE(more_than_one_host_is_refused) {
    for (std::size_t hosts : {2u, 3u}) {
        BOOST_TEST_CONTEXT(hosts << " Host fields") {
            st::framing_facts f;
            f.host_fields = hosts;
            BOOST_CHECK_EQUAL(st::check_framing(f), st::framing_verdict::duplicate_host);
            // Also with an otherwise fine chunked body.
            auto chunked = with_transfer_encoding("chunked");
            chunked.host_fields = hosts;
            BOOST_CHECK_EQUAL(st::check_framing(chunked), st::framing_verdict::duplicate_host);
        }
    }
}

BOOST_AUTO_TEST_CASE(each_refusal_names_its_problem) {
    const st::framing_verdict refused[] = {
        st::framing_verdict::duplicate_host,
        st::framing_verdict::transfer_encoding_not_chunked,
        st::framing_verdict::transfer_encoding_with_content_length,
        st::framing_verdict::transfer_encoding_in_http10,
    };
    std::set<std::string> messages;
    for (auto v : refused) {
        const std::string m = st::describe(v);
        BOOST_TEST_CONTEXT(m) {
            BOOST_CHECK(m.find("Host") != std::string::npos ||
                        m.find("Transfer-Encoding") != std::string::npos);
            messages.insert(m);
        }
    }
    BOOST_CHECK_EQUAL(messages.size(), std::size(refused));
}

BOOST_AUTO_TEST_SUITE_END()
