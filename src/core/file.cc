#include "core/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace mailsift {

Result<std::string> read_whole_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Error::permanent(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Error::permanent(fmt::format("cannot read {}: {}", path, std::strerror(err)));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Error::permanent(fmt::format("{} is a directory", path));
  }
  // Regular files: the size is known, so the string is sized once and read(2) fills it; one
  // more read(2) confirms the end. Pipes, /proc files and files growing meanwhile go on in
  // chunks until read(2) returns 0.
  std::string bytes;
  if (S_ISREG(st.st_mode) && st.st_size > 0)
    bytes.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  char chunk[16384];
  for (;;) {
    const bool into_string = got < bytes.size();
    char* dst = into_string ? bytes.data() + got : chunk;
    const size_t room = into_string ? bytes.size() - got : sizeof chunk;
    const ssize_t n = ::read(fd, dst, room);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      const int err = errno;
      ::close(fd);
      return Error::permanent(fmt::format("error reading {}: {}", path, std::strerror(err)));
    }
    if (n == 0)
      break;
    if (into_string) {
      got += static_cast<size_t>(n);
    } else {
      bytes.append(chunk, static_cast<size_t>(n));
      got = bytes.size();
    }
  }
  bytes.resize(got);  // shorter than fstat said: the file shrank meanwhile
  ::close(fd);
  return bytes;
}

}  // namespace mailsift
