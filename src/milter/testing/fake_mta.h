// mailsift::milter::testing::FakeMta — the MTA side of a milter connection for tests: connects to
// a milter on 127.0.0.1, sends commands encoded by milter::encode_command (the packets a Postfix
// 3.7 capture shows) and reads the replies back as (code, payload) packets. Shared by the
// server's milter and signing tests (target mailsift_milter_testing, test-only).
//
// Failure semantics: a failed connect throws (boost::system::system_error, the test fails);
// read() returns code 0 once the milter closed the connection or the read failed.
#pragma once

#include <boost/asio.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "milter/codec.h"

namespace mailsift::milter::testing {

struct Packet {
  char code = 0;  // 0: the connection was closed
  std::string payload;
};

class FakeMta {
 public:
  explicit FakeMta(uint16_t port) : socket_(io_) {
    socket_.connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  }
  void send(const Command& c) { send_raw(encode_command(c)); }
  void send_raw(const std::string& bytes) {
    boost::asio::write(socket_, boost::asio::buffer(bytes));
  }
  // Next packet; code 0 when the server closed the connection.
  Packet read() {
    unsigned char len[4];
    boost::system::error_code ec;
    boost::asio::read(socket_, boost::asio::buffer(len), ec);
    if (ec)
      return {};
    const uint32_t n =
        (uint32_t{len[0]} << 24) | (uint32_t{len[1]} << 16) | (uint32_t{len[2]} << 8) | len[3];
    std::string data(n, '\0');
    boost::asio::read(socket_, boost::asio::buffer(data), ec);
    if (ec || data.empty())
      return {};
    return {data[0], data.substr(1)};
  }
  // Packets up to and including the next verdict (accept, continue, reject, tempfail,
  // reply code, discard), skipping progress; fewer when the connection closes first.
  std::vector<Packet> read_until_verdict() {
    std::vector<Packet> out;
    for (Packet p = read(); p.code != 0; p = read()) {
      if (p.code == 'p')
        continue;
      out.push_back(p);
      if (std::string_view("acrtyd").find(p.code) != std::string_view::npos)
        break;
    }
    return out;
  }
  void close() { socket_.close(); }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
};

}  // namespace mailsift::milter::testing
