// The status page (PRODUCT.md §5, GET /): /status for a person, as one self-contained HTML
// document with its style and script embedded. The document holds no data: its script fetches
// GET /status (JSON, same origin, Accept: application/json) every few seconds and fills the page
// in, inserting every string it gets as text (textContent), never as markup. So the page can
// never hold a token: /status holds none (metrics.hpp), and the document is the same bytes for
// every caller.
//
// The page loads nothing else: its Content-Security-Policy allows only the embedded style and
// script, by their SHA-256 hashes, computed here from the very bytes served (once, on first use),
// so the hashes cannot drift from the assets; connections only to its own origin (the /status
// fetch); no frames, forms, base URL or plugins. The request policy (request_policy.hpp) applies
// to the page as to every route, and the fetch satisfies it as it is: a same-origin GET carries no
// Origin, and /status needs no X-Tokend-Request.
//
// When /status cannot be fetched (the daemon stopped, a refusal, a timeout) the page says so,
// keeps the last data it showed, marked as old, and keeps trying.
//
// No I/O and no clock: the same bytes for every request. Safe on any thread (the first call of
// any function below builds the document and the policy, thread-safely). Throws only
// std::bad_alloc.
#pragma once

#include <string>
#include <string_view>

#include "synergy_tokend/http_reply.hpp"

namespace synergy_tokend {

// The complete HTML document.
const std::string& status_page_document();

// The embedded assets, exactly as the document holds them between <style> and </style>, and
// between <script> and </script>.
std::string_view status_page_style();
std::string_view status_page_script();

// The Content-Security-Policy header value for the document.
const std::string& status_page_csp();

// The 200 reply of the page: Content-Type text/html; charset=utf-8, the policy above,
// X-Content-Type-Options: nosniff, Cache-Control: no-store, Referrer-Policy: no-referrer,
// X-Frame-Options: DENY (for browsers that predate frame-ancestors).
local_response status_page_response();

} // namespace synergy_tokend
