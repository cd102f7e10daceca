#include "lwauth/files.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
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
        open_checked(AT_FDCWD, path, O_RDONLY, FileType::Regular, private_file_rule(::geteuid() + 1));
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

// A second name of a trusted file outlives the first: it is refused, whatever the access.
TEST_F(OpenChecked, AFileWithASecondNameIsRefused) {
    std::string file = (dir_ / "state.db").string();
    std::ofstream(file).close();
    ::chmod(file.c_str(), 0600);
    ASSERT_TRUE(open_checked(AT_FDCWD, file, O_RDONLY, FileType::Regular, mine()).ok());
    fs::create_hard_link(file, dir_ / "elsewhere");
    for (int flags : {O_RDONLY, O_RDWR | O_CREAT, O_PATH}) {
        auto f = open_checked(AT_FDCWD, file, flags, FileType::Regular, mine());
        ASSERT_FALSE(f.ok()) << flags;
        EXPECT_EQ(f.error().code(), Errc::InvalidArgument);
        EXPECT_EQ(describe_file_error(f.error(), "/x"),
                  "/x is a hard link (the file has another name, which may be in a place others "
                  "can write), which lwauth does not trust here");
    }
}

// A policy or secret file (a rule with other_names) may have a second name when it is
// the owner's in a directory only the owner may write: opened, and said to have one.
// In a directory others may write, or as another's file, it is refused as before.
TEST_F(OpenChecked, AFileWithASecondNameIsTakenOnlyWhereTheRuleAllowsIt) {
    FileRule policy{::geteuid(), 022, std::nullopt, std::nullopt, true};
    fs::create_directory(dir_ / "etc");
    ::chmod((dir_ / "etc").c_str(), 0755);
    std::string file = (dir_ / "etc" / "lwauth.conf").string();
    std::ofstream(file).close();
    ::chmod(file.c_str(), 0644);
    auto one = open_checked(AT_FDCWD, file, O_RDONLY, FileType::Regular, policy);
    ASSERT_TRUE(one.ok()) << one.error().what();
    EXPECT_FALSE(one->other_names());

    fs::create_hard_link(file, dir_ / "elsewhere");
    auto two = open_checked(AT_FDCWD, file, O_RDONLY, FileType::Regular, policy);
    ASSERT_TRUE(two.ok()) << two.error().what();
    EXPECT_TRUE(two->other_names());
    EXPECT_FALSE(open_checked(AT_FDCWD, file, O_RDONLY, FileType::Regular, mine()).ok())
        << "state keeps one name";

    ::chmod((dir_ / "etc").c_str(), 0775);
    auto group_writes = open_checked(AT_FDCWD, file, O_RDONLY, FileType::Regular, policy);
    ASSERT_FALSE(group_writes.ok()) << "a directory the group may write";
    EXPECT_EQ(group_writes.error().code(), Errc::InvalidArgument);
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

// The secret files' rule, as lwauthd running as its own user (uid and gid 998) applies it.
class SecretRule : public ::testing::Test {
  protected:
    static constexpr uid_t kDaemon = 998;

    // What check_rule says of a regular file: "" when it is accepted.
    static std::string verdict(uid_t uid, gid_t gid, mode_t mode,
                               SecretReader reader = SecretReader{kDaemon, kDaemon}) {
        struct stat st {};
        st.st_uid = uid;
        st.st_gid = gid;
        st.st_mode = S_IFREG | mode;
        auto checked = check_rule(st, secret_file_rule(reader));
        return checked ? "" : checked.error().what();
    }
};

TEST_F(SecretRule, AcceptsThePackagesLayoutAndTheDaemonsOwnFiles) {
    EXPECT_EQ(verdict(0, kDaemon, 0640), "");  // root:lwauth 0640, as shipped
    EXPECT_EQ(verdict(0, kDaemon, 0440), "");
    EXPECT_EQ(verdict(kDaemon, kDaemon, 0600), "");
    EXPECT_EQ(verdict(kDaemon, kDaemon, 0640), "");
    EXPECT_EQ(verdict(kDaemon, 0, 0400), "");
}

TEST_F(SecretRule, RefusesWhatOthersCouldReadOrWriteAndWhatTheDaemonCannotRead) {
    const std::string rule =
        "must be owned by root with group gid 998 and mode 0640, or by uid 998 with mode "
        "0600, so that lwauthd (uid 998) reads it and nobody else but root does; it is owned by ";
    // Others may read.
    EXPECT_EQ(verdict(0, kDaemon, 0644), rule + "root, group gid 998, with mode 0644");
    // Others may write.
    EXPECT_EQ(verdict(kDaemon, kDaemon, 0602), rule + "uid 998, group gid 998, with mode 0602");
    // lwauthd's group may write: never, even its own.
    EXPECT_EQ(verdict(0, kDaemon, 0660), rule + "root, group gid 998, with mode 0660");
    // Another group may read (adm, say).
    EXPECT_EQ(verdict(0, 4, 0640), rule + "root, group gid 4, with mode 0640");
    // Another user owns it, however private.
    EXPECT_EQ(verdict(1000, kDaemon, 0600), rule + "uid 1000, group gid 998, with mode 0600");
    // Root's alone, as a root-run lwauthd had it: lwauthd, now lwauth, cannot read it.
    EXPECT_EQ(verdict(0, 0, 0600), rule + "root, group root, with mode 0600");
    EXPECT_EQ(verdict(0, kDaemon, 0600), rule + "root, group gid 998, with mode 0600");
}

TEST_F(SecretRule, ForADaemonRunAsRootRootsFilesAlone) {
    SecretReader root{0, 0};
    EXPECT_EQ(verdict(0, 0, 0600, root), "");
    EXPECT_EQ(verdict(0, 0, 0640, root), "");
    EXPECT_EQ(verdict(0, kDaemon, 0640, root),
              "must be owned by root with mode 0600 (or 0640 with group root), so that nobody "
              "but root reads it; it is owned by root, group gid 998, with mode 0640");
    EXPECT_NE(verdict(kDaemon, kDaemon, 0600, root), "");
}

TEST(StateRule, StaysTheDaemonsAloneWithNoGroupOrOtherBits) {
    struct stat st {};
    st.st_uid = 998;
    st.st_mode = S_IFDIR | 0700;
    EXPECT_TRUE(check_rule(st, private_file_rule(998)).ok());
    st.st_mode = S_IFDIR | 0750;
    EXPECT_FALSE(check_rule(st, private_file_rule(998)).ok());
    st.st_mode = S_IFDIR | 0700;
    st.st_uid = 0;  // left by a root-run lwauthd: systemd's StateDirectory= chowns it first
    EXPECT_STREQ(check_rule(st, private_file_rule(998)).error().what(),
                 "must be owned by uid 998 and not readable by group or others (chmod 0700); it "
                 "is owned by root with mode 0700");
}

}  // namespace
}  // namespace lwauth
