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
    OpenedFile d =
        open_checked(AT_FDCWD, (dir_ / "state").string(), O_RDONLY, FileType::Directory, mine());
    EXPECT_TRUE(d.ok()) << d.problem;
    EXPECT_TRUE(d.fd.valid());
}

// O_NOFOLLOW does not stop the kernel from following a last link when the path ends in
// a slash: "--state-dir /var/lib/lwauth/" must not let a link through.
TEST_F(OpenChecked, ATrailingSlashDoesNotLetALinkThrough) {
    fs::create_directory(dir_ / "real");
    ::chmod((dir_ / "real").c_str(), 0700);
    fs::create_directory_symlink(dir_ / "real", dir_ / "link");
    for (const std::string& path : {(dir_ / "link").string(), (dir_ / "link").string() + "/",
                                    (dir_ / "link").string() + "//"}) {
        OpenedFile d = open_checked(AT_FDCWD, path, O_RDONLY, FileType::Directory, mine());
        EXPECT_EQ(d.problem, "is a symbolic link, which lwauth does not follow here") << path;
        EXPECT_FALSE(d.fd.valid()) << path;
    }
    // An administrator's link to a directory is followed only where asked for.
    OpenedFile followed = open_checked(AT_FDCWD, (dir_ / "link").string() + "/", O_RDONLY,
                                       FileType::Directory, mine(), 0, /*follow=*/true);
    EXPECT_TRUE(followed.ok()) << followed.problem;
}

TEST_F(OpenChecked, AMissingFileKeepsItsErrnoAndReadsAfterAColon) {
    OpenedFile f = open_checked(AT_FDCWD, (dir_ / "nothing").string(), O_RDONLY,
                                FileType::Regular, mine());
    EXPECT_EQ(f.open_errno, ENOENT);
    EXPECT_EQ(f.describe("/x"), "/x: No such file or directory");
}

TEST_F(OpenChecked, TheOwnerAndModeAreJudgedOnTheDescriptor) {
    std::string path = (dir_ / "f").string();
    std::ofstream(path) << "x";
    ::chmod(path.c_str(), 0640);
    OpenedFile f = open_checked(AT_FDCWD, path, O_RDONLY, FileType::Regular, mine());
    EXPECT_FALSE(f.fd.valid());
    EXPECT_EQ(f.describe("/x"),
              "/x must be owned by " + owner_text(::geteuid()) +
                  " and not readable by group or others (chmod 0600); it is owned by " +
                  owner_text(::geteuid()) + " with mode 0640");
    ::chmod(path.c_str(), 0400);
    EXPECT_TRUE(open_checked(AT_FDCWD, path, O_RDONLY, FileType::Regular, mine()).ok())
        << "a read-only secret is fine";
    EXPECT_FALSE(
        open_checked(AT_FDCWD, path, O_RDONLY, FileType::Regular, FileRule{::geteuid() + 1, 077})
            .ok());
}

TEST_F(OpenChecked, AFileIsNotADirectoryNorADirectoryAFile) {
    std::string file = (dir_ / "f").string();
    std::ofstream(file) << "x";
    ::chmod(file.c_str(), 0600);
    EXPECT_EQ(open_checked(AT_FDCWD, file, O_RDONLY, FileType::Directory, mine()).problem,
              "is not a directory");
    EXPECT_EQ(open_checked(AT_FDCWD, dir_.string(), O_RDONLY, FileType::Regular, mine()).problem,
              "is not a regular file");
}

}  // namespace
}  // namespace lwauth
