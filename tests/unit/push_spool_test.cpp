#include "../../helper/spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../../helper/privileges.hpp"
#include "sha256.hpp"

using namespace ks;
using namespace ks::push;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "ks-spool-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

SpoolEntry sample_entry() {
    SpoolEntry e;
    e.topic = "results";
    e.id = {"c", "42", "n1", "alice", wire::make_transfer_id("c", "42", "n1")};
    e.manifest.transfer_id = e.id.transfer_id;
    e.manifest.job = {"42", "alice", 1000, 1000, "n1", "c", 2, 0};
    e.manifest.files.push_back({{"out/a.csv", 0, 5, 0644, 1}, sha256_hex("hello"), 1});
    e.manifest.files.push_back({{"b", 1, 0, 0600, 2}, sha256_hex(""), 1});
    e.manifest.skipped.push_back({"pipe", "fifo"});
    e.resend = {0};
    return e;
}

// Commits sample_entry() without data to resend into SPOOL = dir/spool; the entry's path.
Result<std::string> commit_entry_without_data(const fs::path& dir,
                                              const std::function<std::string(std::string_view)>& sign = {}) {
    SpoolEntry e = sample_entry();
    e.resend.clear();
    TRY_ASSIGN(auto w, SpoolWriter::begin((dir / "spool").string(), ::geteuid(), e.id.transfer_id));
    return w.commit(e, sign);
}

}  // namespace

TEST(PushSpool, EntryJsonRoundTrips) {
    SpoolEntry e = sample_entry();
    auto back = parse_spool_entry(spool_entry_to_json(e));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->topic, "results");
    EXPECT_EQ(back->id.transfer_id, e.id.transfer_id);
    EXPECT_EQ(back->manifest.files.size(), 2u);
    EXPECT_EQ(back->manifest.skipped[0].reason, "fifo");
    EXPECT_EQ(back->resend, std::vector<std::uint64_t>{0});
}

TEST(PushSpool, InconsistentEntriesAreRejected) {
    SpoolEntry bad_index = sample_entry();
    bad_index.resend = {7};
    EXPECT_FALSE(parse_spool_entry(spool_entry_to_json(bad_index)));
    SpoolEntry bad_id = sample_entry();
    bad_id.id.node = "other";  // transfer id no longer matches cluster/job/node
    EXPECT_FALSE(parse_spool_entry(spool_entry_to_json(bad_id)));
    EXPECT_FALSE(parse_spool_entry("{\"format\":2}"));
    EXPECT_FALSE(parse_spool_entry("not json"));
}

TEST(PushSpool, WriterCopiesDataAndOnlyCommitMakesTheEntryVisible) {
    TempDir t;
    fs::path src = t.path / "src";
    std::ofstream(src, std::ios::binary) << "hello";
    SpoolEntry e = sample_entry();
    const std::string uid_dir = (t.path / "spool" / std::to_string(::geteuid())).string();
    {
        auto w = SpoolWriter::begin((t.path / "spool").string(), ::geteuid(), e.id.transfer_id);
        ASSERT_TRUE(w) << w.error().message;
        int fd = ::open(src.c_str(), O_RDONLY);
        auto copy = w->add_file(0, fd);
        ::close(fd);
        ASSERT_TRUE(copy) << copy.error().message;
        EXPECT_EQ(copy->size, 5u);
        EXPECT_EQ(copy->sha256, sha256_hex("hello"));
        EXPECT_FALSE(fs::exists(uid_dir + "/" + e.id.transfer_id));  // not visible before commit
    }
    // An abandoned writer leaves nothing behind.
    EXPECT_TRUE(fs::is_empty(uid_dir));

    auto w = SpoolWriter::begin((t.path / "spool").string(), ::geteuid(), e.id.transfer_id);
    ASSERT_TRUE(w);
    int fd = ::open(src.c_str(), O_RDONLY);
    ASSERT_TRUE(w->add_file(0, fd));
    ::close(fd);
    auto where = w->commit(e);
    ASSERT_TRUE(where) << where.error().message;
    EXPECT_EQ(*where, uid_dir + "/" + e.id.transfer_id);
    std::ifstream data(*where + "/data/0");
    std::string content((std::istreambuf_iterator<char>(data)), {});
    EXPECT_EQ(content, "hello");
    std::ifstream j(*where + "/transfer.json");
    std::string text((std::istreambuf_iterator<char>(j)), {});
    EXPECT_TRUE(parse_spool_entry(text));
    EXPECT_EQ(fs::status(uid_dir).permissions() & fs::perms::all, fs::perms::owner_all);

    // A second spool of the same transfer replaces the first.
    auto w2 = SpoolWriter::begin((t.path / "spool").string(), ::geteuid(), e.id.transfer_id);
    ASSERT_TRUE(w2);
    e.resend.clear();
    ASSERT_TRUE(w2->commit(e));
    EXPECT_FALSE(fs::exists(*where + "/data/0"));
    int entries = 0;
    for (auto& d : fs::directory_iterator(uid_dir)) entries += d.path().filename().string().front() != '.';
    EXPECT_EQ(entries, 1);

    UniqueFd parent(::open(uid_dir.c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(remove_entry(parent.get(), e.id.transfer_id));
    EXPECT_FALSE(fs::exists(*where));
}

TEST(PushSpool, CommitWritesTheSignatureOfExactlyTheEntryJson) {
    TempDir t;
    std::string signed_text;
    auto where = commit_entry_without_data(t.path, [&](std::string_view json) {
        signed_text = json;
        return std::string("k1:") + std::string(64, 'a');
    });
    ASSERT_TRUE(where) << where.error().message;
    std::ifstream j(*where + "/transfer.json");
    EXPECT_EQ(std::string((std::istreambuf_iterator<char>(j)), {}), signed_text);
    std::ifstream sig(*where + "/" + kSpoolSignatureFile);
    EXPECT_EQ(std::string((std::istreambuf_iterator<char>(sig)), {}), "k1:" + std::string(64, 'a') + "\n");
}

TEST(PushSpool, CopiesStaySparseAndTheSpoolIsBounded) {
    TempDir t;
    fs::path src = t.path / "sparse";
    {
        int fd = ::open(src.c_str(), O_WRONLY | O_CREAT, 0644);
        ASSERT_EQ(::pwrite(fd, "tail", 4, (64 << 20) - 4), 4);  // 64 MiB, all but 4 bytes a hole
        ::close(fd);
    }
    SpoolEntry e = sample_entry();
    auto w = SpoolWriter::begin((t.path / "spool").string(), ::geteuid(), e.id.transfer_id, {1 << 20, 0});
    ASSERT_TRUE(w);
    int fd = ::open(src.c_str(), O_RDONLY);
    auto copy = w->add_file(0, fd);
    ASSERT_TRUE(copy) << copy.error().message;
    EXPECT_EQ(copy->size, 64u << 20);
    EXPECT_EQ(copy->sha256, sha256_hex(std::string((64 << 20) - 4, '\0') + "tail"));
    struct stat st {};
    auto entries = fs::directory_iterator(t.path / "spool" / std::to_string(::geteuid()));
    fs::path data = entries->path() / "data" / "0";
    ASSERT_EQ(::stat(data.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 64 << 20);
    EXPECT_LT(st.st_blocks * 512, 1 << 20);  // the hole stayed a hole
    // A file whose data does not fit the user's share (1 MiB here) is refused as "full"; the entry goes on.
    fs::path dense = t.path / "dense";
    std::ofstream(dense, std::ios::binary) << std::string(2 << 20, 'x');
    int fd2 = ::open(dense.c_str(), O_RDONLY);
    auto refused = w->add_file(1, fd2);
    ::close(fd2);
    ::close(fd);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().full);
    EXPECT_NE(refused.error().message.find("stream.spool.max.bytes"), std::string::npos) << refused.error().message;
    e.resend = {0};
    EXPECT_TRUE(w->commit(e));
}

TEST(PushSpool, EntriesOfInterruptedRunsAreRemovedOnlyWhenTheirProcessIsGone) {
    TempDir t;
    fs::create_directories(t.path / ".aaaa.partial-999999999" / "data");  // no such process
    std::ofstream(t.path / ".aaaa.partial-999999999" / "data" / "0") << "x";
    fs::create_directories(t.path / (".bbbb.partial-" + std::to_string(::getpid())));  // alive: a run writing it now
    fs::create_directories(t.path / ".cccc.old-999999998");
    fs::create_directories(t.path / "dddd");  // a complete entry's name: never touched
    UniqueFd dir(::open(t.path.c_str(), O_RDONLY | O_DIRECTORY));
    EXPECT_EQ(remove_interrupted_entries(dir.get()), 2u);
    EXPECT_FALSE(fs::exists(t.path / ".aaaa.partial-999999999"));
    EXPECT_TRUE(fs::exists(t.path / (".bbbb.partial-" + std::to_string(::getpid()))));
    EXPECT_FALSE(fs::exists(t.path / ".cccc.old-999999998"));
    EXPECT_TRUE(fs::exists(t.path / "dddd"));
}

TEST(PushSpool, OnlyARegularTransferJsonMakesACompleteEntryAndDotNamesAreNotListed) {
    TempDir t;
    auto where = commit_entry_without_data(t.path);
    ASSERT_TRUE(where) << where.error().message;
    EXPECT_EQ(fs::status(*where + "/transfer.json").permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    UniqueFd entry(::open(where->c_str(), O_RDONLY | O_DIRECTORY));
    struct stat json {};
    EXPECT_TRUE(is_complete_entry(entry.get(), &json));
    EXPECT_TRUE(S_ISREG(json.st_mode));
    std::vector<std::string> names;
    for (const auto& d : visible_entries(entry.get())) names.push_back(d.name);
    EXPECT_EQ(names, (std::vector<std::string>{"data", "transfer.json"}));  // no temporary file left

    // The user owns the directory and can put anything there: a symlink or a directory is not an entry file.
    fs::create_directories(t.path / "fake" / ".hidden");
    fs::create_symlink(*where + "/transfer.json", t.path / "fake" / "transfer.json");
    UniqueFd fake(::open((t.path / "fake").c_str(), O_RDONLY | O_DIRECTORY));
    EXPECT_FALSE(is_complete_entry(fake.get()));
    names.clear();
    for (const auto& d : visible_entries(fake.get())) names.push_back(d.name);
    EXPECT_EQ(names, (std::vector<std::string>{"transfer.json"}));
    fs::remove(t.path / "fake" / "transfer.json");
    fs::create_directory(t.path / "fake" / "transfer.json");
    EXPECT_FALSE(is_complete_entry(fake.get()));
}

TEST(PushSpool, UserDirectoryMustNotBeASymlinkOrSomeoneElses) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create directories for other uids";
    TempDir t;
    std::string root = (t.path / "spool").string();
    ASSERT_TRUE(prepare_user_spool(root, 4242, 4242));
    struct stat st {};
    ASSERT_EQ(::stat((root + "/4242").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 4242u);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_TRUE(prepare_user_spool(root, 4242, 4242));  // idempotent
    fs::create_directory(root + "/elsewhere");
    fs::create_directory_symlink(root + "/elsewhere", root + "/4343");
    EXPECT_FALSE(prepare_user_spool(root, 4343, 4343));
    ASSERT_EQ(::chown((root + "/elsewhere").c_str(), 1, 1), 0);
    fs::rename(root + "/elsewhere", root + "/4444");
    auto other = prepare_user_spool(root, 4444, 4444);
    ASSERT_FALSE(other);
    EXPECT_NE(other.error().message.find("belongs to uid 1"), std::string::npos) << other.error().message;
}

TEST(PushPrivileges, RunAsParsing) {
    auto r = parse_run_as("1000:100");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->uid, 1000u);
    EXPECT_EQ(r->gid, 100u);
    EXPECT_FALSE(parse_run_as("0:0"));
    EXPECT_FALSE(parse_run_as("1000:0"));
    EXPECT_FALSE(parse_run_as("alice"));
    EXPECT_FALSE(parse_run_as("1000:"));
    EXPECT_FALSE(parse_run_as("-1:5"));
}

TEST(PushPrivileges, DropIsPermanent) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    pid_t pid = ::fork();
    if (pid == 0) {
        auto d = drop_privileges({65534, 65534});
        if (!d) ::_exit(1);
        if (::geteuid() != 65534 || ::getegid() != 65534) ::_exit(2);
        if (::setuid(0) == 0 || ::setegid(0) == 0) ::_exit(3);
        gid_t groups[64];
        int n = ::getgroups(64, groups);
        for (int i = 0; i < n; ++i)
            if (groups[i] == 0) ::_exit(4);
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}
