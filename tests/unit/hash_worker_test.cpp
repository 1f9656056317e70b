// HashWorker: the digests are those of the bytes in order, whatever the interleaving of digests and the queue bound;
// every job's Keep comes back to the owner (collect(), in order, with its tag) and is released only on the owner's
// thread; bytes out of order give no digest; dropped digests are forgotten.
#include <pthread.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hash_worker.hpp"
#include "sha256.hpp"

using namespace ks;

namespace {

// A heap string whose release is counted and must happen on the thread that created the counter.
struct Counted {
    Counted(std::string b, std::atomic<int>& r) : bytes(std::move(b)), released(&r) {}
    Counted(const Counted&) = delete;
    std::string bytes;
    std::atomic<int>* released;
    std::thread::id owner = std::this_thread::get_id();
    ~Counted() {
        EXPECT_EQ(std::this_thread::get_id(), owner) << "a Keep was released on the worker's thread";
        ++*released;
    }
};

Keep keep_of(std::string bytes, std::atomic<int>& released, std::string_view& view) {
    auto c = std::make_unique<Counted>(std::move(bytes), released);
    view = c->bytes;
    return Keep::owning(std::move(c));
}

std::string random_bytes(std::mt19937& rng, std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

TEST(HashWorker, DigestsOfInterleavedStreamsMatchOneShotHashing) {
    std::mt19937 rng(7);
    std::atomic<int> released{0};
    int added = 0;
    {
        HashWorker worker(256 * 1024);  // small bound: add() often waits for room
        std::vector<std::string> whole(5);
        std::vector<std::uint64_t> offsets(5, 0);
        std::vector<HashWorker::Id> ids;
        for (int i = 0; i < 5; ++i) ids.push_back(worker.start());
        std::uint64_t tag = 0;
        std::vector<std::uint64_t> tags_back;
        for (int round = 0; round < 200; ++round) {
            const std::size_t d = rng() % 5;
            // From nothing to several times what is hashed on the caller's thread: both ways, interleaved.
            std::string piece = random_bytes(rng, rng() % (6 * HashWorker::kHashHereBytes));
            whole[d] += piece;
            std::string_view view;
            Keep k = keep_of(std::move(piece), released, view);
            worker.add(ids[d], offsets[d], view, std::move(k), tag++);
            ++added;
            offsets[d] += view.size();
            EXPECT_LE(worker.queued_bytes(), 256u * 1024);
            for (auto& done : worker.collect()) tags_back.push_back(done.tag);
        }
        for (int i = 0; i < 5; ++i) EXPECT_EQ(worker.result(ids[i]), sha256_hex(whole[i])) << "digest " << i;
        worker.wait_idle();
        for (auto& done : worker.collect()) tags_back.push_back(done.tag);
        // Every job came back once, in the order it was added.
        ASSERT_EQ(tags_back.size(), static_cast<std::size_t>(added));
        for (std::size_t i = 0; i < tags_back.size(); ++i) EXPECT_EQ(tags_back[i], i);
        EXPECT_EQ(worker.digests(), 0u);
    }
    EXPECT_EQ(released.load(), added);
}

TEST(HashWorker, KeepsAreReleasedOnlyByTheOwner) {
    std::atomic<int> released{0};
    HashWorker worker(1 << 20);
    auto id = worker.start();
    std::string_view view;
    worker.add(id, 0, "abc", keep_of("abc", released, view));
    worker.add(id, 3, "def", keep_of("def", released, view));
    worker.wait_idle();
    EXPECT_EQ(released.load(), 0) << "hashed, but not collected yet: still the owner's";
    {
        auto done = worker.collect();
        EXPECT_EQ(done.size(), 2u);
    }
    EXPECT_EQ(released.load(), 2);
    EXPECT_EQ(worker.result(id), sha256_hex("abcdef"));
}

TEST(HashWorker, TheBytesGivenAreHashedNotACopyMadeLater) {
    // The keep holds the bytes; the view may point anywhere inside what it keeps.
    HashWorker worker(1 << 20);
    auto id = worker.start();
    std::string_view view;
    Keep k = Keep::copy_of("hello world", view);
    worker.add(id, 0, view.substr(0, 5), std::move(k));
    EXPECT_EQ(worker.result(id), sha256_hex("hello"));
}

TEST(HashWorker, AnEmptyDigestIsTheHashOfNothing) {
    HashWorker worker(1024);
    EXPECT_EQ(worker.result(worker.start()), sha256_hex(""));
    auto id = worker.start();
    std::string_view view;
    worker.add(id, 0, "", Keep::copy_of("", view));
    worker.end(id);
    EXPECT_EQ(worker.result(id), sha256_hex(""));
    EXPECT_EQ(worker.collect().size(), 1u) << "an empty job comes back too (an empty file's chunk)";
}

TEST(HashWorker, BytesOutOfOrderGiveNoDigest) {
    HashWorker worker(1024);
    std::string_view view;
    auto gap = worker.start();
    worker.add(gap, 0, "ab", Keep::copy_of("ab", view));
    worker.add(gap, 5, "cd", Keep::copy_of("cd", view));
    EXPECT_EQ(worker.result(gap), std::nullopt);
    auto overlap = worker.start();
    worker.add(overlap, 0, "ab", Keep::copy_of("ab", view));
    worker.add(overlap, 1, "cd", Keep::copy_of("cd", view));
    EXPECT_EQ(worker.result(overlap), std::nullopt);
    auto after_end = worker.start();
    worker.add(after_end, 0, "ab", Keep::copy_of("ab", view));
    worker.end(after_end);
    worker.add(after_end, 2, "cd", Keep::copy_of("cd", view));
    EXPECT_EQ(worker.result(after_end), std::nullopt);
    worker.wait_idle();
    EXPECT_EQ(worker.collect().size(), 6u);
    EXPECT_EQ(worker.digests(), 0u);
}

TEST(HashWorker, DroppedDigestsAreForgottenAndTheirBytesStillComeBack) {
    std::atomic<int> released{0};
    {
        HashWorker worker(1 << 20);
        auto kept = worker.start();
        auto dropped = worker.start();
        std::string big(4 << 20, 'x');
        std::string_view view;
        worker.add(dropped, 0, big, keep_of(big, released, view));
        worker.add(kept, 0, "k", keep_of("k", released, view));
        worker.drop(dropped);
        worker.add(dropped, big.size(), "late", keep_of("late", released, view));  // after the drop: not hashed
        EXPECT_EQ(worker.result(dropped), std::nullopt);
        EXPECT_EQ(worker.result(kept), sha256_hex("k"));
        worker.wait_idle();
        EXPECT_EQ(worker.collect().size(), 3u);
        EXPECT_EQ(worker.digests(), 0u);
        EXPECT_EQ(released.load(), 3);
    }
}

TEST(HashWorker, AJobLargerThanTheBoundIsAcceptedAlone) {
    HashWorker worker(16);
    auto id = worker.start();
    std::string big(1000, 'y');
    std::string_view view;
    worker.add(id, 0, big, Keep::copy_of(big, view));
    worker.add(id, big.size(), big, Keep::copy_of(big, view));
    EXPECT_EQ(worker.result(id), sha256_hex(big + big));
}

TEST(HashWorker, CollectWaitsForAQueuedJob) {
    HashWorker worker(1 << 20);
    auto id = worker.start();
    std::string big(8 << 20, 'z');
    std::string_view view;
    worker.add(id, 0, big, Keep::copy_of(big, view), 42);
    auto done = worker.collect(true);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].tag, 42u);
    EXPECT_TRUE(worker.collect(true).empty()) << "nothing queued: returns at once";
    EXPECT_EQ(worker.result(id), sha256_hex(big));
}

TEST(HashWorker, TheDestructorReleasesWhatWasNotCollected) {
    std::atomic<int> released{0};
    {
        HashWorker worker(1 << 20);
        auto id = worker.start();
        std::string_view view;
        for (int i = 0; i < 10; ++i) worker.add(id, static_cast<std::uint64_t>(i), "a", keep_of("a", released, view));
    }
    EXPECT_EQ(released.load(), 10);
}

}  // namespace

namespace {

TEST(HashWorker, TheWorkerBlocksSignalsSoTheyReachTheToolsThreads) {
    HashWorker worker(1 << 20);
    auto id = worker.start();
    std::string_view view;
    const std::string big(HashWorker::kHashHereBytes + 1, 'x');  // more than is hashed on the caller's thread
    worker.add(id, 0, big, Keep::copy_of(big, view));              // starts the thread
    EXPECT_EQ(worker.result(id), sha256_hex(big));  // the thread has run (a new thread blocks all until it runs)
    // A thread blocking SIGTERM has it in its mask: /proc/self/task/<tid>/status, SigBlk (bit 15 is signal 15).
    int blocking = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream status(entry.path() / "status");
        std::string line;
        while (std::getline(status, line))
            if (line.rfind("SigBlk:", 0) == 0 && (std::stoull(line.substr(7), nullptr, 16) & (1ull << (SIGTERM - 1))))
                ++blocking;
    }
    EXPECT_GE(blocking, 1) << "the worker thread does not block SIGTERM";
    sigset_t mine;
    pthread_sigmask(SIG_SETMASK, nullptr, &mine);
    EXPECT_FALSE(sigismember(&mine, SIGTERM)) << "the caller's own mask must be left as it was";
}

}  // namespace

namespace {

TEST(HashWorker, SmallJobsOfAnIdleWorkerAreHashedAtOnceAndInOrder) {
    HashWorker worker(1 << 20);
    auto id = worker.start();
    std::string_view view;
    worker.add(id, 0, "small", Keep::copy_of("small", view), 1);
    auto done = worker.collect();  // no wait: hashed on this thread
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].tag, 1u);
    // A large job goes to the thread; small ones behind it wait their turn there (the digest's order holds).
    std::string big(HashWorker::kHashHereBytes + 1, 'b');
    worker.add(id, 5, big, Keep::copy_of(big, view), 2);
    worker.add(id, 5 + big.size(), "tail", Keep::copy_of("tail", view), 3);
    EXPECT_EQ(worker.result(id), sha256_hex("small" + big + "tail"));
    worker.wait_idle();
    done = worker.collect();
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0].tag, 2u);
    EXPECT_EQ(done[1].tag, 3u);
}

}  // namespace
