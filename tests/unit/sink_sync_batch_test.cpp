// SyncBatch: when fsyncs may be grouped into one syncfs(), and what a batch refuses.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "unique_fd.hpp"
#include "../../sink/safe_fs.hpp"
#include "../../sink/sync_batch.hpp"

namespace fs = std::filesystem;
using namespace ks;
using namespace ks::sink;

namespace {

class SyncBatchTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("ks-sync-batch-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
        root_ = UniqueFd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(root_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    UniqueFd file(const std::string& name) {
        return UniqueFd(::open((dir_ / name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    }

    fs::path dir_;
    UniqueFd root_;
};

}  // namespace

TEST_F(SyncBatchTest, FewFilesAreSyncedOneByOneEvenWhereGroupingIsAllowed) {
    SyncBatch batch(root_.get(), SyncMode::grouped, kGroupedSyncMinFiles - 1);
    EXPECT_FALSE(batch.grouped());
    auto f = file("a");
    ASSERT_TRUE(batch.add(f.get(), "a"));
    ASSERT_TRUE(batch.commit());
}

TEST_F(SyncBatchTest, ManyFilesAreGroupedOnlyInGroupedMode) {
    EXPECT_TRUE(SyncBatch(root_.get(), SyncMode::grouped, kGroupedSyncMinFiles).grouped());
    EXPECT_FALSE(SyncBatch(root_.get(), SyncMode::per_file, 100000).grouped());
}

TEST_F(SyncBatchTest, AFileClosedWithoutFsyncForcesTheSyncfs) {
    SyncBatch batch(root_.get(), SyncMode::grouped, 1);
    ASSERT_TRUE(batch.add_without_fd("f1"));
    EXPECT_TRUE(batch.grouped());
    ASSERT_TRUE(batch.commit());
}

TEST_F(SyncBatchTest, PerFileModeRefusesWhatItCannotFsync) {
    SyncBatch batch(root_.get(), SyncMode::per_file, 100);
    auto ok = batch.add_without_fd("f1");
    ASSERT_FALSE(ok);
    EXPECT_NE(ok.error().message.find("f1"), std::string::npos) << ok.error().message;
}

TEST_F(SyncBatchTest, AFailedFsyncIsReported) {
    SyncBatch batch(root_.get(), SyncMode::per_file, 1);
    EXPECT_FALSE(batch.add(-1, "not a descriptor"));
    SyncBatch grouped(-1, SyncMode::grouped, kGroupedSyncMinFiles);
    ASSERT_TRUE(grouped.add(-1, "deferred"));
    EXPECT_FALSE(grouped.commit());  // syncfs on a bad descriptor fails and says so
}

TEST_F(SyncBatchTest, LocalJournalingFileSystemsOnARecentKernelAllowGrouping) {
    // The test directory is on the build machine's local disk (ext4 here) or tmpfs; /proc never qualifies.
    UniqueFd proc(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(proc);
    EXPECT_EQ(reliable_sync_mode(proc.get()), SyncMode::per_file);
    if (reliable_sync_mode(root_.get()) == SyncMode::per_file)
        GTEST_SKIP() << "temporary directory is not ext4/xfs/btrfs/tmpfs, or the kernel is older than 5.8";
    SUCCEED();
}

TEST_F(SyncBatchTest, NewDirectoriesAreLeftToTheBatchWhenItIsGrouped) {
    SyncBatch batch(root_.get(), SyncMode::grouped, kGroupedSyncMinFiles);
    ASSERT_TRUE(open_dir_path(root_.get(), {"old"}, true));  // created before: nothing for the batch
    ASSERT_TRUE(open_dir_path(root_.get(), {"old"}, true, {}, &batch));
    EXPECT_FALSE(batch.pending());
    auto d = open_dir_path(root_.get(), {"old", "new", "deeper"}, true, {}, &batch);
    ASSERT_TRUE(d);
    EXPECT_TRUE(fs::is_directory(dir_ / "old" / "new" / "deeper"));
    EXPECT_TRUE(batch.pending());  // the parents of "new" and "deeper" wait for the batch's syncfs
    ASSERT_TRUE(batch.commit());
    EXPECT_FALSE(batch.pending());
}

TEST_F(SyncBatchTest, NewDirectoriesAreFsyncedAtOnceWhenTheBatchIsPerFile) {
    SyncBatch batch(root_.get(), SyncMode::per_file, 100);
    ASSERT_TRUE(open_dir_path(root_.get(), {"x", "y"}, true, {}, &batch));
    EXPECT_TRUE(fs::is_directory(dir_ / "x" / "y"));
    EXPECT_FALSE(batch.pending());  // fsync'ed by add(): nothing left for commit()
}
