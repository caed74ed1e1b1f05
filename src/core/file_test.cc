#include "core/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace mailsift {
namespace {

class ReadWholeFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mailsift-file-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& bytes) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::string dir_;
};

TEST_F(ReadWholeFile, ReadsEveryByte) {
  // Larger than the chunk used past the fstat size, with NULs and high bytes.
  std::string bytes;
  for (int i = 0; i < 200000; ++i)
    bytes.push_back(static_cast<char>((i * 131) & 0xff));
  auto got = read_whole_file(write("big", bytes));
  ASSERT_TRUE(got.ok()) << got.error().describe();
  EXPECT_EQ(*got, bytes);
}

TEST_F(ReadWholeFile, EmptyFileIsEmptyNotAnError) {
  auto got = read_whole_file(write("empty", ""));
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
}

TEST_F(ReadWholeFile, MissingFileIsPermanent) {
  auto got = read_whole_file(dir_ + "/nope");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().kind, ErrorKind::kPermanent);
  EXPECT_EQ(got.error().message, "cannot read " + dir_ + "/nope: No such file or directory");
}

TEST_F(ReadWholeFile, DirectoryIsPermanent) {
  auto got = read_whole_file(dir_);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().kind, ErrorKind::kPermanent);
  EXPECT_EQ(got.error().message, dir_ + " is a directory");
}

TEST_F(ReadWholeFile, FifoWithoutSizeIsReadToTheEnd) {
  // fstat gives no size for a FIFO: the chunked path must read until the writer closes.
  const std::string path = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  std::string bytes(100000, 'x');
  for (size_t i = 0; i < bytes.size(); i += 7)
    bytes[i] = '\n';
  std::thread writer([&] { std::ofstream(path, std::ios::binary) << bytes; });
  auto got = read_whole_file(path);
  writer.join();
  ASSERT_TRUE(got.ok()) << got.error().describe();
  EXPECT_EQ(*got, bytes);
}

TEST_F(ReadWholeFile, ProcFileReportingSizeZeroIsRead) {
  // /proc files stat as size 0 but have content.
  auto got = read_whole_file("/proc/self/status");
  ASSERT_TRUE(got.ok()) << got.error().describe();
  EXPECT_NE(got->find("Name:"), std::string::npos);
}

}  // namespace
}  // namespace mailsift
