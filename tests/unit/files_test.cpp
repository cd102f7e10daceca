#include "lwauth/files.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace lwauth {
namespace {

namespace fs = std::filesystem;

class OpenChecked : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "lwauth-files-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { fs::remove_all(dir_); }

    [[nodiscard]] FileRule mine() const { return private_file_rule(::geteuid()); }

    fs::path dir_;
};

TEST_F(OpenChecked, ADirectoryOfItsOwnerIsOpened) {
    fs::create_directory(dir_ / "state");
    ::chmod((dir_ / "state").c_str(), 0700);
    auto d =
        open_checked(AT_FDCWD, (dir_ / "state").string(), O_RDONLY, FileType::Directory, mine());
    ASSERT_TRUE(d.ok()) << d.error().what();
    EXPECT_TRUE(d->fd.valid());
    EXPECT_TRUE(S_ISDIR(d->st.st_mode));
}

// O_NOFOLLOW does not stop the kernel from following a last link when the path ends in
// a slash: "--state-dir /var/lib/lwauth/" must not let a link through.
TEST_F(OpenChecked, ATrailingSlashDoesNotLetALinkThrough) {
    fs::create_directory(dir_ / "real");
    ::chmod((dir_ / "real").c_str(), 0700);
    fs::create_directory_symlink(dir_ / "real", dir_ / "link");
    for (const std::string& path : {(dir_ / "link").string(), (dir_ / "link").string() + "/",
                                    (dir_ / "link").string() + "//"}) {
        auto d = open_checked(AT_FDCWD, path, O_RDONLY, FileType::Directory, mine());
        ASSERT_FALSE(d.ok()) << path;
        EXPECT_EQ(d.error().code(), Errc::InvalidArgument) << path;
        EXPECT_STREQ(d.error().what(), "is a symbolic link, which lwauth does not follow here");
        EXPECT_EQ(describe_file_error(d.error(), "/x"),
                  "/x is a symbolic link, which lwauth does not follow here");
    }
    // An administrator's link to a directory is followed only where asked for.
    auto followed = open_checked(AT_FDCWD, (dir_ / "link").string() + "/", O_RDONLY,
                                 FileType::Directory, mine(), 0, /*follow=*/true);
    EXPECT_TRUE(followed.ok()) << followed.error().what();
}

TEST_F(OpenChecked, AMissingFileIsNotFoundAndReadsAfterAColon) {
    auto f =
        open_checked(AT_FDCWD, (dir_ / "nothing").string(), O_RDONLY, FileType::Regular, mine());
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code(), Errc::NotFound);
    EXPECT_EQ(describe_file_error(f.error(), "/x"), "/x: No such file or directory");
}

TEST_F(OpenChecked, TheOwnerAndModeAreJudgedOnTheDescriptor) {
    std::string path = (dir_ / "f").string();
    std::ofstream(path) << "x";
    ::chmod(path.c_str(), 0640);
    auto f = open_checked(AT_FDCWD, path, O_RDONLY, FileType::Regular, mine());
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code(), Errc::AccessDenied);
    EXPECT_EQ(describe_file_error(f.error(), "/x"),
              "/x must be owned by " + owner_text(::geteuid()) +
                  " and not readable by group or others (chmod 0600); it is owned by " +
                  owner_text(::geteuid()) + " with mode 0640");
    ::chmod(path.c_str(), 0400);
    auto kept = open_checked(AT_FDCWD, path, O_RDONLY, FileType::Regular, mine());
    ASSERT_TRUE(kept.ok()) << "a read-only secret is fine: " << kept.error().what();
    EXPECT_TRUE(kept->fd.valid());
    auto other =
        open_checked(AT_FDCWD, path, O_RDONLY, FileType::Regular, FileRule{::geteuid() + 1, 077});
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().code(), Errc::AccessDenied);
}

TEST_F(OpenChecked, AFileIsNotADirectoryNorADirectoryAFile) {
    std::string file = (dir_ / "f").string();
    std::ofstream(file) << "x";
    ::chmod(file.c_str(), 0600);
    auto as_dir = open_checked(AT_FDCWD, file, O_RDONLY, FileType::Directory, mine());
    ASSERT_FALSE(as_dir.ok());
    EXPECT_EQ(as_dir.error().code(), Errc::InvalidArgument);
    EXPECT_STREQ(as_dir.error().what(), "is not a directory");
    auto as_file = open_checked(AT_FDCWD, dir_.string(), O_RDONLY, FileType::Regular, mine());
    ASSERT_FALSE(as_file.ok());
    EXPECT_EQ(as_file.error().code(), Errc::InvalidArgument);
    EXPECT_EQ(describe_file_error(as_file.error(), "/x"), "/x is not a regular file");
}

// A FIFO in the place of a file written to (the outbox) is refused at once, not waited on.
TEST_F(OpenChecked, AFifoIsNotARegularFile) {
    std::string fifo = (dir_ / "fifo").string();
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto f = open_checked(AT_FDCWD, fifo, O_WRONLY | O_APPEND | O_CREAT, FileType::Regular, mine());
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code(), Errc::InvalidArgument);
    EXPECT_STREQ(f.error().what(), "is not a regular file");
}

// A refusal of the system other than a missing file keeps the system's words.
TEST_F(OpenChecked, AnotherSystemErrorKeepsItsWords) {
    std::string file = (dir_ / "f").string();
    std::ofstream(file) << "x";
    auto f = open_checked(AT_FDCWD, file + "/below", O_RDONLY, FileType::Regular, mine());
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code(), Errc::Internal);
    EXPECT_EQ(describe_file_error(f.error(), "/x"), "/x: Not a directory");
}

}  // namespace
}  // namespace lwauth
