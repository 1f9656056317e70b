// The sink core's test fixture (no Kafka): wire-format messages from a fake job, fed to a Sink over a temporary
// output root, every case in both sync modes. Used by sink_reassembly_test.cpp, sink_set_aside_test.cpp and
// sink_records_test.cpp (one suite, SinkReassembly, instantiated once in sink_reassembly_test.cpp).
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>
#include <optional>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "sha256.hpp"
#include "../../sink/sink.hpp"
#include "../../helper/record_encoder.hpp"

namespace ks::sink::testing {

namespace fs = std::filesystem;
using namespace ks;

struct Msg {
    wire::Headers headers;
    std::string payload;
};

struct SourceFile {
    std::string path;
    std::string data;
    std::uint32_t mode = 0640;
};

class Job {
public:
    Job(std::string job, std::string node, std::uint32_t nodes = 1) : nodes_(nodes) {
        id_.cluster = "c1";
        id_.job_id = std::move(job);
        id_.node = std::move(node);
        id_.user = "alice";
        id_.transfer_id = wire::make_transfer_id(id_.cluster, id_.job_id, id_.node);
    }
    const wire::TransferIdentity& id() const { return id_; }
    wire::JobInfo job_info() const {
        return wire::JobInfo{id_.job_id, id_.user, 1000, 1000, id_.node, id_.cluster, nodes_, 0};
    }

    // The transfer's open message (unsigned: these sinks run with stream.auth=none).
    Msg open() const {
        return {wire::encode_open_headers(id_), wire::open_to_json({wire::kVersion, id_.transfer_id, job_info()})};
    }

    // The open message, chunks of every file (chunk_bytes each; a 0-byte file is one empty chunk), then the manifest.
    std::vector<Msg> messages(const std::vector<SourceFile>& files, std::size_t chunk_bytes = 4) const {
        std::vector<Msg> out = {open()};
        for (std::size_t i = 0; i < files.size(); ++i) {
            const auto& f = files[i];
            std::size_t off = 0;
            do {
                wire::ChunkHeader c{id_, wire::FileMeta{f.path, i, f.data.size(), f.mode, 1700000000123456789}, off};
                out.push_back({wire::encode_chunk(c), f.data.substr(off, chunk_bytes)});
                off += chunk_bytes;
            } while (off < f.data.size());
        }
        out.push_back({wire::encode_manifest_headers(id_), manifest_json(files)});
        return out;
    }

    // The same messages with the manifest split into parts of at most `part_bytes` JSON bytes each.
    std::vector<Msg> messages_with_parts(const std::vector<SourceFile>& files, std::size_t part_bytes) const {
        auto out = messages(files);
        out.pop_back();
        auto m = wire::parse_manifest(manifest_json(files));
        auto parts = wire::manifest_parts_json(*m, part_bytes);
        for (std::size_t i = 0; i < parts->size(); ++i)
            out.push_back({wire::encode_manifest_headers(id_, static_cast<std::uint32_t>(i),
                                                         static_cast<std::uint32_t>(parts->size())),
                           (*parts)[i]});
        return out;
    }

    std::string manifest_json(const std::vector<SourceFile>& files) const {
        wire::Manifest m;
        m.transfer_id = id_.transfer_id;
        m.job = job_info();
        m.chunk_bytes = 4;
        for (std::size_t i = 0; i < files.size(); ++i) {
            const auto& f = files[i];
            wire::FileEntry e;
            e.meta = wire::FileMeta{f.path, i, f.data.size(), f.mode, 1700000000123456789};
            e.sha256 = sha256_hex(f.data);
            e.chunks = (f.data.size() + 3) / 4;
            m.files.push_back(std::move(e));
        }
        return wire::manifest_to_json(m);
    }

private:
    wire::TransferIdentity id_;
    std::uint32_t nodes_;
};

inline std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Every regular file below `dir` (not the sink's own dot-directories) as "path -> content".
inline std::map<std::string, std::string> tree(const fs::path& dir) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
        auto rel = fs::relative(it->path(), dir).string();
        if (rel.starts_with(".")) {
            if (it->is_directory()) it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file()) out[rel] = slurp(it->path());
    }
    return out;
}

// Every case runs twice: with an fsync per file, and with fsyncs grouped into syncfs() (sync_batch.hpp).
class SinkReassembly : public ::testing::TestWithParam<SyncMode> {
protected:
    void SetUp() override {
        std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        std::replace(name.begin(), name.end(), '/', '-');
        root_ = fs::temp_directory_path() / ("ks-sink-test-" + std::to_string(::getpid()) + "-" + name);
        fs::remove_all(root_);
        fs::create_directories(root_);
        open_sink();
    }
    void TearDown() override {
        sink_.reset();
        fs::remove_all(root_);
    }
    void open_sink() {
        sink_.reset();
        auto layout = Layout::parse(kDefaultLayout);
        ASSERT_TRUE(layout);
        SinkSettings s;
        s.root = root_.string();
        s.layout = *layout;
        s.limits = Limits{1 << 20, 1000};
        s.stale_seconds = 3600;
        s.max_open_files = 3;
        s.sync_mode = GetParam();
        s.records_timestamp_data = timestamp_data_;
        s.clock = [this] { return clock_; };
        auto sink = Sink::open(std::move(s), log_);
        ASSERT_TRUE(sink) << sink.error().message;
        sink_.emplace(std::move(*sink));
    }
    void feed(const std::vector<Msg>& msgs) {
        feed_unflushed(msgs);
        auto ok = sink_->flush();
        ASSERT_TRUE(ok) << ok.error().message;
    }
    // Without the flush that the consumer does every commit interval.
    void feed_unflushed(const std::vector<Msg>& msgs) {
        for (const auto& m : msgs) {
            IncomingMessage in{"topic", 0, offset_++, &m.headers, m.payload};
            auto ok = sink_->handle(in);
            ASSERT_TRUE(ok) << ok.error().message;
        }
    }
    // As the consumer does: each payload can be taken over by the sink (to be hashed after handle() returns); counts
    // the payloads taken and those released again.
    void feed_handing_over(const std::vector<Msg>& msgs, int& taken, std::shared_ptr<int> released) {
        struct Payload {
            Payload(std::string b, std::shared_ptr<int> r) : bytes(std::move(b)), released(std::move(r)) {}
            Payload(const Payload&) = delete;
            ~Payload() { ++*released; }
            std::string bytes;
            std::shared_ptr<int> released;
        };
        for (const auto& m : msgs) {
            auto payload = std::make_unique<Payload>(m.payload, released);
            IncomingMessage in{"topic", 0, offset_++, &m.headers, payload->bytes};
            in.take_payload = [&] {
                ++taken;
                return Keep::owning(std::move(payload));
            };
            auto ok = sink_->handle(in);
            ASSERT_TRUE(ok) << ok.error().message;
            if (payload) payload.reset();  // not taken: the consumer releases it now
        }
        auto ok = sink_->flush();
        ASSERT_TRUE(ok) << ok.error().message;
    }
    bool exists(const std::string& rel) const { return fs::exists(fs::symlink_status(root_ / rel)); }

    fs::path root_;
    bool timestamp_data_ = false;
    Log log_{"sink-test", LogLevel::error};
    std::optional<Sink> sink_;
    std::int64_t offset_ = 0;
    double clock_ = static_cast<double>(::time(nullptr));  // compared with directory mtimes
};

inline const std::vector<SourceFile> kFiles = {{"a.csv", "hello, world\n"},
                                               {"empty", ""},
                                               {"d/e/f/deep.bin", std::string("\0\1\2\3\4\5\6\7\x08\x09", 10)},
                                               {"ünï/日本.txt", "non-ascii name", 0600}};

}  // namespace ks::sink::testing
