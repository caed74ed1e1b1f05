// mailsift::mime extraction helpers (internal): URLs and e-mail addresses in text, URL hosts,
// magic-byte sniffing of attachments.
//
// Never fails; callbacks receive views into the scanned text.
// SECURITY: reads untrusted text; every scan is a single forward pass.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace mailsift::mime::detail {

// Calls on_url for each http/https/ftp URL or bare "www." host found in text (trailing
// punctuation trimmed). Stops early when on_url returns false.
void scan_urls(std::string_view text, const std::function<bool(std::string_view)>& on_url);
// Calls on_email for each addr-spec-looking token with a dotted domain.
void scan_emails(std::string_view text, const std::function<bool(std::string_view)>& on_email);

// Lower-case host of a URL ("HTTP://User@WWW.Ex.com:80/x" -> "www.ex.com"); percent-escapes in
// the host are decoded. "" if the URL has no host.
std::string url_host(std::string_view url);
// Host a piece of anchor text displays ("www.paypal.com", "https://x.y/z"), "" if none.
std::string displayed_host(std::string_view anchor_text);
// True if two hosts are not the same site (neither equals nor is a subdomain of the other,
// ignoring a leading "www.").
bool hosts_differ(std::string_view a, std::string_view b);

// Media type from magic bytes, "" if unknown.
std::string sniff_type(std::string_view bytes);
// Broad class of a media type or file extension used to compare claims with content:
// "pdf", "zip", "ole", "rar", "7z", "gzip", "exe", "elf", "png", "jpeg", "gif", "html", ... or
// "" if there is no opinion.
std::string_view type_class(std::string_view media_type);
std::string_view extension_class(std::string_view filename);
bool is_executable_type(std::string_view sniffed);
bool is_executable_extension(std::string_view filename);

}  // namespace mailsift::mime::detail
