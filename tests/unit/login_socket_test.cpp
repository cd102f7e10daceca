#include "login_socket.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "lwauth/error.hpp"

namespace lwauth {
namespace {

namespace fs = std::filesystem;

class ListenLoginSocket : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "lwauth-socket-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        run_ = dir_ / "run";
    }
    void TearDown() override { fs::remove_all(dir_); }

    [[nodiscard]] std::string socket_path() const { return (run_ / "login.socket").string(); }

    fs::path dir_;
    fs::path run_;
};

mode_t mode_of(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mode;
}

TEST_F(ListenLoginSocket, MakesAMissingDirectoryAndASocketOfItsOwnUserAlone) {
    auto fd = listen_login_socket(socket_path());
    ASSERT_TRUE(fd) << fd.error().what();
    EXPECT_TRUE(S_ISDIR(mode_of(run_)));
    EXPECT_EQ(mode_of(run_) & 07777, 0700u);
    EXPECT_TRUE(S_ISSOCK(mode_of(socket_path())));
    EXPECT_EQ(mode_of(socket_path()) & 07777, 0600u);
    int listening = 0;
    socklen_t size = sizeof(listening);
    ASSERT_EQ(::getsockopt(fd->get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &size), 0);
    EXPECT_EQ(listening, 1);
}

TEST_F(ListenLoginSocket, ReplacesASocketLeftByAnEarlierRun) {
    auto first = listen_login_socket(socket_path());
    ASSERT_TRUE(first) << first.error().what();
    first->reset();  // as a killed lwauthd leaves it
    auto second = listen_login_socket(socket_path());
    EXPECT_TRUE(second) << second.error().what();
}

TEST_F(ListenLoginSocket, LeavesAnythingElseOfThatNameAlone) {
    fs::create_directories(run_);
    fs::permissions(run_, fs::perms::owner_all);
    {
        std::FILE* f = std::fopen(socket_path().c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fclose(f);
    }
    auto file = listen_login_socket(socket_path());
    ASSERT_FALSE(file);
    EXPECT_NE(std::string(file.error().what()).find("is not a socket"), std::string::npos)
        << file.error().what();
    EXPECT_TRUE(S_ISREG(mode_of(socket_path())));

    fs::remove(socket_path());
    fs::create_symlink(dir_ / "elsewhere", socket_path());
    auto link = listen_login_socket(socket_path());
    ASSERT_FALSE(link);
    EXPECT_TRUE(S_ISLNK(mode_of(socket_path())));
    EXPECT_FALSE(fs::exists(dir_ / "elsewhere"));
}

TEST_F(ListenLoginSocket, RefusesADirectoryOthersMayEnterOrThatIsALink) {
    fs::create_directories(run_);
    fs::permissions(run_, fs::perms(0755));
    auto open_dir = listen_login_socket(socket_path());
    ASSERT_FALSE(open_dir);
    EXPECT_EQ(open_dir.error().code(), Errc::AccessDenied) << open_dir.error().what();

    fs::path real = dir_ / "real";
    fs::create_directories(real);
    fs::permissions(real, fs::perms::owner_all);
    fs::remove(run_);
    fs::create_directory_symlink(real, run_);
    auto link = listen_login_socket(socket_path());
    ASSERT_FALSE(link);
    EXPECT_EQ(link.error().code(), Errc::InvalidArgument) << link.error().what();
    EXPECT_FALSE(fs::exists(real / "login.socket"));
}

TEST_F(ListenLoginSocket, RefusesARelativeOrTooLongPath) {
    EXPECT_FALSE(listen_login_socket("run/login.socket"));
    EXPECT_FALSE(listen_login_socket("/run/lwauth/"));
    EXPECT_FALSE(listen_login_socket("/" + std::string(200, 'x') + "/login.socket"));
}

}  // namespace
}  // namespace lwauth
