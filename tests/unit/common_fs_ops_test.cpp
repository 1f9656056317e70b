// common/fs_ops: the file-system layer the push and the sink share. What matters is what a hostile user who owns the
// directory can do to it: symlinks in place of directories and files, FIFOs, names that already exist.
#include "fs_ops.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

using namespace ks;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    UniqueFd fd;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "ks-fs-ops-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
        fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::size_t entries_in(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

}  // namespace

TEST(FsOps, ErrnoErrorNamesTheCauseAndKeepsErrno) {
    errno = ENOSPC;
    Error e = errno_error("write x");
    EXPECT_EQ(errno, ENOSPC);
    EXPECT_EQ(e.message, std::string("write x: ") + std::strerror(ENOSPC));
    auto r = []() -> Result<void> {
        errno = EACCES;
        return fail_errno("open y");
    }();
    ASSERT_FALSE(r);
    EXPECT_EQ(errno, EACCES);
    EXPECT_NE(r.error().message.find("open y: "), std::string::npos);
}

TEST(FsOps, OpenDirAtRefusesSymlinksAndFiles) {
    TempDir t;
    fs::create_directory(t.path / "real");
    fs::create_directory_symlink(t.path / "real", t.path / "link");
    write_text(t.path / "file", "x");
    EXPECT_TRUE(open_dir_at(t.fd.get(), "real"));
    auto link = open_dir_at(t.fd.get(), "link");
    ASSERT_FALSE(link);
    EXPECT_NE(link.error().message.find("symlink"), std::string::npos) << link.error().message;
    EXPECT_FALSE(open_dir_at(t.fd.get(), "file"));
    auto missing = open_dir_at(t.fd.get(), "missing");
    ASSERT_FALSE(missing);
    EXPECT_EQ(errno, ENOENT);
}

TEST(FsOps, MakeDirAtSaysWhetherItCreatedAndNeverFollowsASymlink) {
    TempDir t;
    bool created = false;
    auto made = make_dir_at(t.fd.get(), "d", 0700, created);
    ASSERT_TRUE(made) << made.error().message;
    EXPECT_TRUE(created);
    struct stat st {};
    ASSERT_EQ(::fstat(made->get(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_TRUE(make_dir_at(t.fd.get(), "d", 0700, created));
    EXPECT_FALSE(created);

    fs::create_directory(t.path / "elsewhere");
    fs::create_directory_symlink(t.path / "elsewhere", t.path / "trap");
    EXPECT_FALSE(make_dir_at(t.fd.get(), "trap", 0700, created));
    EXPECT_FALSE(created);
}

TEST(FsOps, ListDirIsSortedCompleteAndRepeatable) {
    TempDir t;
    for (const char* n : {"b", "a", ".hidden", "c"}) write_text(t.path / n, n);
    fs::create_directory(t.path / "sub");
    const std::vector<std::string> want = {".hidden", "a", "b", "c", "sub"};
    auto first = list_dir(t.fd.get());
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(*first, want);
    // The descriptor was read to its end by the first listing: the second must start over.
    auto second = list_dir(t.fd.get());
    ASSERT_TRUE(second);
    EXPECT_EQ(*second, want);
    EXPECT_FALSE(list_dir(-1));
    EXPECT_EQ(errno, EBADF);
}

TEST(FsOps, ListDirEntriesReportsSymlinksAsSymlinks) {
    TempDir t;
    fs::create_directory(t.path / "dir");
    write_text(t.path / "file", "12345");
    fs::create_directory_symlink(t.path / "dir", t.path / "link");
    auto entries = list_dir_entries(t.fd.get());
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->size(), 3u);
    EXPECT_EQ((*entries)[0].name, "dir");
    EXPECT_TRUE(S_ISDIR((*entries)[0].st.st_mode));
    EXPECT_EQ((*entries)[1].name, "file");
    EXPECT_EQ((*entries)[1].st.st_size, 5);
    EXPECT_EQ((*entries)[2].name, "link");
    EXPECT_TRUE(S_ISLNK((*entries)[2].st.st_mode));
}

TEST(FsOps, WriteAllWritesEverythingAndReportsAFullDevice) {
    TempDir t;
    auto out = create_file_at(t.fd.get(), "big", 0600);
    ASSERT_TRUE(out);
    const std::string data(3 << 20, 'z');
    ASSERT_TRUE(write_all(out->get(), data, "big"));
    EXPECT_EQ(fs::file_size(t.path / "big"), data.size());

    UniqueFd full(::open("/dev/full", O_WRONLY | O_CLOEXEC));
    if (!full) GTEST_SKIP() << "no /dev/full";
    auto r = write_all(full.get(), "x", "the file");
    ASSERT_FALSE(r);
    EXPECT_EQ(errno, ENOSPC);  // callers tell "the disk is full" from other failures by errno
    EXPECT_EQ(r.error().message, std::string("write the file: ") + std::strerror(ENOSPC));
}

TEST(FsOps, CreateFileAtNeverOpensWhatIsThere) {
    TempDir t;
    auto made = create_file_at(t.fd.get(), "new", 0640);
    ASSERT_TRUE(made);
    struct stat st {};
    ASSERT_EQ(::fstat(made->get(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
    EXPECT_FALSE(create_file_at(t.fd.get(), "new", 0640));
    EXPECT_EQ(errno, EEXIST);
    // A dangling symlink: creating through it would make a file wherever it points.
    fs::create_symlink(t.path / "target", t.path / "dangling");
    EXPECT_FALSE(create_file_at(t.fd.get(), "dangling", 0600));
    EXPECT_FALSE(fs::exists(t.path / "target"));
}

TEST(FsOps, WriteFileAtomicReplacesWithModeAndLeavesNoTemporaryFile) {
    TempDir t;
    ASSERT_TRUE(write_file_atomic(t.fd.get(), t.fd.get(), "state", "first", {.mode = 0600, .durable = true}));
    ASSERT_TRUE(write_file_atomic(t.fd.get(), t.fd.get(), "state", "second", {.mode = 0600, .durable = true}));
    EXPECT_EQ(read_text(t.path / "state"), "second");
    EXPECT_EQ(fs::status(t.path / "state").permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_EQ(entries_in(t.path), 1u);
    ASSERT_TRUE(write_file_atomic(t.fd.get(), t.fd.get(), "quick", "not synced", {.mode = 0644, .durable = false}));
    EXPECT_EQ(read_text(t.path / "quick"), "not synced");
    EXPECT_EQ(entries_in(t.path), 2u);
}

TEST(FsOps, WriteFileAtomicAcrossDirectoriesReplacesASymlinkNotItsTarget) {
    TempDir t;
    fs::create_directory(t.path / "tmp");
    fs::create_directory(t.path / "dst");
    write_text(t.path / "outside", "precious");
    fs::create_symlink(t.path / "outside", t.path / "dst" / "name");
    UniqueFd tmp(::open((t.path / "tmp").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    UniqueFd dst(::open((t.path / "dst").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(write_file_atomic(tmp.get(), dst.get(), "name", "new"));
    EXPECT_EQ(read_text(t.path / "outside"), "precious");
    EXPECT_FALSE(fs::is_symlink(t.path / "dst" / "name"));
    EXPECT_EQ(read_text(t.path / "dst" / "name"), "new");
    EXPECT_EQ(entries_in(t.path / "tmp"), 0u);
}

TEST(FsOps, WriteFileAtomicFailureRemovesTheTemporaryFileAndKeepsErrno) {
    TempDir t;
    fs::create_directories(t.path / "taken" / "inside");  // a non-empty directory cannot be renamed over
    auto r = write_file_atomic(t.fd.get(), t.fd.get(), "taken", "x");
    ASSERT_FALSE(r);
    EXPECT_TRUE(errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST) << errno;
    EXPECT_NE(r.error().message.find("rename to taken"), std::string::npos) << r.error().message;
    EXPECT_EQ(entries_in(t.path), 1u);
}

TEST(FsOps, ReadSmallFileReadsOnlyRegularFilesUpToALimit) {
    TempDir t;
    write_text(t.path / "f", "hello");
    auto ok = read_small_file(t.fd.get(), "f", 5);
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, "hello");
    auto big = read_small_file(t.fd.get(), "f", 4);
    ASSERT_FALSE(big);
    EXPECT_NE(big.error().message.find("larger"), std::string::npos);
    fs::create_symlink(t.path / "f", t.path / "link");
    EXPECT_FALSE(read_small_file(t.fd.get(), "link", 100));
    // A FIFO in place of the file: refused without blocking (nobody will ever write to it).
    ASSERT_EQ(::mkfifo((t.path / "fifo").c_str(), 0600), 0);
    auto fifo = read_small_file(t.fd.get(), "fifo", 100);
    ASSERT_FALSE(fifo);
    EXPECT_NE(fifo.error().message.find("not a regular file"), std::string::npos);
}

TEST(FsOps, UniqueTempNamesAreHiddenAndDistinct) {
    const std::string a = unique_temp_name(), b = unique_temp_name();
    EXPECT_EQ(a.rfind(".tmp-", 0), 0u);
    EXPECT_NE(a, b);
}
