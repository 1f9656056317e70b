#include "../../helper/safe_walk.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <map>

using namespace ks::push;
namespace fs = std::filesystem;

namespace {

class TempTree {
public:
    TempTree() {
        std::string tmpl = (fs::temp_directory_path() / "ks-walk-XXXXXX").string();
        root_ = ::mkdtemp(tmpl.data());
        ::chmod(root_.c_str(), 0755);
    }
    ~TempTree() {
        std::error_code ec;
        // Make everything removable again (the tests take permissions away).
        for (auto it = fs::recursive_directory_iterator(root_, fs::directory_options::skip_permission_denied, ec);
             it != fs::recursive_directory_iterator(); it.increment(ec))
            if (!it->is_symlink()) ::chmod(it->path().c_str(), 0755);
        ::chmod(root_.c_str(), 0755);
        fs::remove_all(root_, ec);
    }
    std::string path(const std::string& rel) const { return root_ + "/" + rel; }
    void file(const std::string& rel, const std::string& content = "x") {
        fs::create_directories(fs::path(path(rel)).parent_path());
        std::ofstream(path(rel)) << content;
    }
    const std::string& root() const { return root_; }

private:
    std::string root_;
};

std::map<std::string, std::string> skips(const WalkResult& r) {
    std::map<std::string, std::string> m;
    for (const auto& s : r.skipped) m[s.path] = s.reason;
    return m;
}

std::vector<std::string> paths(const WalkResult& r) {
    std::vector<std::string> v;
    for (const auto& f : r.files) v.push_back(f.path);
    return v;
}

// Runs `fn` in a child that dropped to an unprivileged uid, since root ignores permission bits.
template <class Fn>
int as_nobody(Fn fn) {
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(100);
        ::_exit(fn());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

}  // namespace

TEST(PushSafeWalk, SortedRegularFilesAndEveryOtherTypeSkippedWithItsReason) {
    TempTree t;
    t.file("b.txt", "bb");
    t.file("a/z.bin", "");
    t.file("a/y.bin", "yyy");
    fs::create_directories(t.path("emptydir"));
    ASSERT_EQ(::symlink("/etc/passwd", t.path("link-out").c_str()), 0);
    ASSERT_EQ(::symlink("a", t.path("link-dir").c_str()), 0);
    ASSERT_EQ(::mkfifo(t.path("pipe").c_str(), 0644), 0);
    int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string sp = t.path("sock");
    ASSERT_LT(sp.size(), sizeof addr.sun_path);
    std::strcpy(addr.sun_path, sp.c_str());
    ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(s);

    auto root = open_root_directory(t.root());
    ASSERT_TRUE(root) << root.error().message;
    auto r = walk_tree(root->get(), GlobFilter{});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(paths(*r), (std::vector<std::string>{"a/y.bin", "a/z.bin", "b.txt"}));
    EXPECT_EQ(r->files[0].size, 3u);
    auto sk = skips(*r);
    EXPECT_EQ(sk["link-out"], "symlink");
    EXPECT_EQ(sk["link-dir"], "symlink");
    EXPECT_EQ(sk["pipe"], "fifo");
    EXPECT_EQ(sk["sock"], "socket");
    EXPECT_EQ(sk.size(), 4u);
}

TEST(PushSafeWalk, DevicesAreSkipped) {
    if (::geteuid() != 0) GTEST_SKIP() << "mknod of a device needs root";
    TempTree t;
    ASSERT_EQ(::mknod(t.path("null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    auto root = open_root_directory(t.root());
    ASSERT_TRUE(root);
    auto r = walk_tree(root->get(), GlobFilter{});
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->files.empty());
    EXPECT_EQ(skips(*r)["null"], "device");
}

TEST(PushSafeWalk, UnreadableDirectoryIsRecordedAndUnreadableFileFailsToOpen) {
    TempTree t;
    t.file("ok.txt");
    t.file("closed/inside.txt");
    t.file("secret.txt");
    ::chmod(t.path("closed").c_str(), 0);
    ::chmod(t.path("secret.txt").c_str(), 0);
    int rc = as_nobody([&] {
        auto root = open_root_directory(t.root());
        if (!root) return 1;
        auto r = walk_tree(root->get(), GlobFilter{});
        if (!r) return 2;
        auto sk = skips(*r);
        if (sk["closed"] != "unreadable: Permission denied") return 3;
        if (paths(*r) != std::vector<std::string>{"ok.txt", "secret.txt"}) return 4;
        auto f = open_regular_beneath(root->get(), "secret.txt");
        if (f || f.error().message != "unreadable: Permission denied") return 5;
        if (!open_regular_beneath(root->get(), "ok.txt")) return 6;
        return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST(PushSafeWalk, OpenBeneathNeverFollowsSymlinksInAnyComponent) {
    TempTree t;
    t.file("real/data.txt", "d");
    ASSERT_EQ(::symlink("real", t.path("alias").c_str()), 0);
    ASSERT_EQ(::symlink("real/data.txt", t.path("direct").c_str()), 0);
    ASSERT_EQ(::mkfifo(t.path("pipe").c_str(), 0644), 0);
    auto root = open_root_directory(t.root());
    ASSERT_TRUE(root);
    auto ok = open_regular_beneath(root->get(), "real/data.txt");
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->st.st_size, 1);
    auto mid = open_regular_beneath(root->get(), "alias/data.txt");
    ASSERT_FALSE(mid);
    EXPECT_EQ(mid.error().message, "symlink");
    auto last = open_regular_beneath(root->get(), "direct");
    ASSERT_FALSE(last);
    EXPECT_EQ(last.error().message, "symlink");
    auto fifo = open_regular_beneath(root->get(), "pipe");  // must return at once, not block
    ASSERT_FALSE(fifo);
    EXPECT_EQ(fifo.error().message, "fifo");
    EXPECT_FALSE(open_regular_beneath(root->get(), "../etc/passwd"));
}

TEST(PushSafeWalk, RootPathWithSymlinkComponentIsRefused) {
    TempTree t;
    t.file("real/x");
    ASSERT_EQ(::symlink("real", t.path("alias").c_str()), 0);
    auto bad = open_root_directory(t.path("alias"));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("symlink"), std::string::npos) << bad.error().message;
    EXPECT_TRUE(open_root_directory(t.path("real")));
    EXPECT_FALSE(open_root_directory(t.path("missing")));
}

TEST(PushSafeWalk, DepthIsBoundedAndExcludedDirectoriesAreNotWalked) {
    TempTree t;
    t.file("d1/d2/d3/deep.txt");
    t.file("d1/shallow.txt");
    t.file("cache/c.bin");
    auto root = open_root_directory(t.root());
    ASSERT_TRUE(root);
    auto filter = GlobFilter::create({}, {"cache"});
    ASSERT_TRUE(filter);
    auto r = walk_tree(root->get(), *filter, 2);
    ASSERT_TRUE(r);
    EXPECT_EQ(paths(*r), (std::vector<std::string>{"d1/shallow.txt"}));
    auto sk = skips(*r);
    EXPECT_EQ(sk["d1/d2/d3"], "too deep");
    EXPECT_EQ(sk.count("cache"), 0u);  // exclusions are deliberate, not recorded
}

namespace {

// Regression: the sink refuses names with control characters and the whole transfer was quarantined with them.
TEST(PushSafeWalk, NamesWithControlCharactersAreSkippedNotSent) {
    TempTree t;
    t.file("name\nwith newline");
    t.file("tab\tdir/inside.txt");
    t.file("caf\xe9.txt");  // invalid UTF-8 is fine: it travels as path_b64
    t.file("ok.txt");
    auto root = open_root_directory(t.root());
    ASSERT_TRUE(root);
    auto filter = GlobFilter::create({}, {});
    ASSERT_TRUE(filter);
    auto r = walk_tree(root->get(), *filter);
    ASSERT_TRUE(r);
    EXPECT_EQ(paths(*r), (std::vector<std::string>{"caf\xe9.txt", "ok.txt"}));
    auto sk = skips(*r);
    EXPECT_EQ(sk["name\nwith newline"], "control character in the name");
    EXPECT_EQ(sk["tab\tdir"], "control character in the name");
    EXPECT_TRUE(has_control_character(std::string("a\x7f", 2)));
    EXPECT_FALSE(has_control_character("caf\xc3\xa9 x"));
}

// Regression: files 257 components deep were sent, and the sink (at most 256 components with its layout's
// directories) quarantined the transfer.
TEST(PushSafeWalk, DefaultDepthStaysWithinTheSinksComponentLimit) {
    TempTree t;
    std::string dir;
    for (int level = 1; level <= 140; ++level) {
        dir += "d/";
        t.file(dir + "f");  // a file with level + 1 components
    }
    auto root = open_root_directory(t.root());
    ASSERT_TRUE(root);
    auto filter = GlobFilter::create({}, {});
    ASSERT_TRUE(filter);
    auto r = walk_tree(root->get(), *filter);
    ASSERT_TRUE(r);
    std::size_t deepest = 0;
    for (const auto& p : paths(*r)) deepest = std::max<std::size_t>(deepest, std::count(p.begin(), p.end(), '/') + 1);
    EXPECT_EQ(deepest, 128u);
    EXPECT_EQ(r->files.size(), 127u);
    ASSERT_EQ(r->skipped.size(), 1u);
    EXPECT_EQ(r->skipped[0].reason, "too deep");
}

}  // namespace
