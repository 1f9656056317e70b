#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "../../spank_plugin/stream_dir.hpp"
#include "../../spank_plugin/tmpdir_record.hpp"
#include "../../spank_plugin/tmpdir_template.hpp"

using namespace ks::plugin;
namespace fs = std::filesystem;

namespace {

const TemplateValues kJob{"42", "alice", "1000", "n1"};

// A scratch directory for one test, removed afterwards.
class ScratchDir {
public:
    ScratchDir() {
        std::string tmpl = (fs::temp_directory_path() / "ks-plugin-test.XXXXXX").string();
        path_ = ::mkdtemp(tmpl.data());
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace

TEST(PluginTmpdirTemplate, ExpandsEverySpecifier) {
    auto p = expand_tmpdir_template("/scratch/%n/%u/%U/job_%j/100%%", kJob);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(*p, "/scratch/n1/alice/1000/job_42/100%");
    auto trailing = expand_tmpdir_template("/scratch/job_%j/", kJob);
    ASSERT_TRUE(trailing);
    EXPECT_EQ(*trailing, "/scratch/job_42");
}

TEST(PluginTmpdirTemplate, RefusesValuesThatChangeThePath) {
    EXPECT_FALSE(expand_tmpdir_template("/scratch/%u", {"42", "..", "1000", "n1"}));
    EXPECT_FALSE(expand_tmpdir_template("/scratch/%u/x", {"42", "a/b", "1000", "n1"}));
    EXPECT_FALSE(expand_tmpdir_template("/scratch/%n/x", {"42", "alice", "1000", ""}));
    EXPECT_FALSE(expand_tmpdir_template("/scratch/%q", kJob));
    EXPECT_FALSE(expand_tmpdir_template("/scratch/%", kJob));
    EXPECT_FALSE(expand_tmpdir_template("scratch/%j", kJob));
    EXPECT_FALSE(expand_tmpdir_template("/scratch/../etc/%j", kJob));
    EXPECT_FALSE(expand_tmpdir_template("/scratch/./%j", kJob));
    // A dot inside a component is fine.
    EXPECT_TRUE(expand_tmpdir_template("/scratch/%u.d/%j", kJob));
}

TEST(PluginStreamDir, AcceptsOnlyTheUsersPrivateDirectory) {
    ScratchDir scratch;
    const uid_t me = ::geteuid();
    const std::string dir = scratch.path() + "/job";
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    auto ok = check_stream_dir(dir, me, false);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(*ok, DirState::present);

    auto missing = check_stream_dir(scratch.path() + "/nope", me, false);
    ASSERT_TRUE(missing);
    EXPECT_EQ(*missing, DirState::missing);

    auto other_user = check_stream_dir(dir, me + 1, false);
    ASSERT_FALSE(other_user);
    EXPECT_NE(other_user.error().message.find("not by the job's user"), std::string::npos);
    EXPECT_TRUE(check_stream_dir(dir, me + 1, true));

    ASSERT_EQ(::chmod(dir.c_str(), 01777), 0);
    auto shared = check_stream_dir(dir, me, false);
    ASSERT_FALSE(shared);
    EXPECT_NE(shared.error().message.find("shared"), std::string::npos);
    EXPECT_TRUE(check_stream_dir(dir, me, true));
}

TEST(PluginStreamDir, RefusesTmpItselfSymlinksAndFiles) {
    auto tmp = check_stream_dir("/tmp", 0, false);
    ASSERT_FALSE(tmp);
    EXPECT_NE(tmp.error().message.find("shared"), std::string::npos);
    EXPECT_FALSE(check_stream_dir("/", 0, false));

    ScratchDir scratch;
    const std::string target = scratch.path() + "/real";
    const std::string link = scratch.path() + "/link";
    const std::string file = scratch.path() + "/file";
    ASSERT_EQ(::mkdir(target.c_str(), 0700), 0);
    ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
    std::ofstream(file) << "x";
    EXPECT_FALSE(check_stream_dir(link, ::geteuid(), true));
    EXPECT_FALSE(check_stream_dir(file, ::geteuid(), true));
}

TEST(PluginStreamDir, CreatesAPrivateDirectoryOnce) {
    ScratchDir scratch;
    const std::string dir = scratch.path() + "/job_42";
    auto created = create_job_tmpdir(dir, ::geteuid(), ::getegid());
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_TRUE(*created);
    struct stat st {};
    ASSERT_EQ(::lstat(dir.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_EQ(st.st_uid, ::geteuid());
    // A second step of the same job finds it and accepts it.
    auto again = create_job_tmpdir(dir, ::geteuid(), ::getegid());
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_FALSE(*again);
    // Someone else's directory under that name is not adopted.
    auto foreign = create_job_tmpdir(dir, ::geteuid() + 1, ::getegid());
    ASSERT_FALSE(foreign);
    EXPECT_NE(foreign.error().message.find("already exists"), std::string::npos);
}

TEST(PluginStreamDir, CreateNeverFollowsAPlantedSymlink) {
    ScratchDir scratch;
    const std::string victim = scratch.path() + "/victim";
    const std::string planted = scratch.path() + "/job_42";
    ASSERT_EQ(::mkdir(victim.c_str(), 0755), 0);
    ASSERT_EQ(::symlink(victim.c_str(), planted.c_str()), 0);
    EXPECT_FALSE(create_job_tmpdir(planted, ::geteuid(), ::getegid()));
    struct stat st {};
    ASSERT_EQ(::stat(victim.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);  // untouched
    EXPECT_FALSE(create_job_tmpdir(scratch.path() + "/missing-parent/job_42", ::geteuid(), ::getegid()));
    EXPECT_FALSE(create_job_tmpdir("relative/job", ::geteuid(), ::getegid()));
}

TEST(PluginTmpdirRecord, FirstRecordWinsAndReadsBack) {
    ScratchDir scratch;
    const std::string state = scratch.path() + "/state";
    auto none = read_recorded_tmpdir(state, "42", "n1");
    ASSERT_TRUE(none) << none.error().message;
    EXPECT_FALSE(*none);

    ASSERT_TRUE(record_job_tmpdir(state, "42", "n1", "/scratch/alice/a"));
    ASSERT_TRUE(record_job_tmpdir(state, "42", "n1", "/scratch/alice/b"));
    ASSERT_TRUE(record_job_tmpdir(state, "42", "n2", "/scratch/alice/c"));
    struct stat st {};
    ASSERT_EQ(::stat(state.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);

    auto n1 = read_recorded_tmpdir(state, "42", "n1");
    ASSERT_TRUE(n1 && *n1);
    EXPECT_EQ(**n1, "/scratch/alice/a");
    auto n2 = read_recorded_tmpdir(state, "42", "n2");
    ASSERT_TRUE(n2 && *n2);
    EXPECT_EQ(**n2, "/scratch/alice/c");

    ASSERT_TRUE(remove_recorded_tmpdir(state, "42", "n1"));
    auto gone = read_recorded_tmpdir(state, "42", "n1");
    ASSERT_TRUE(gone);
    EXPECT_FALSE(*gone);
    EXPECT_TRUE(remove_recorded_tmpdir(state, "42", "n1"));
    EXPECT_EQ(std::distance(fs::directory_iterator(state), fs::directory_iterator{}), 1);  // no temp files left
}

TEST(PluginTmpdirRecord, RefusesBadNamesValuesAndAnOpenStateDir) {
    ScratchDir scratch;
    const std::string state = scratch.path() + "/state";
    EXPECT_FALSE(record_job_tmpdir(state, "42", "../n1", "/x"));
    EXPECT_FALSE(record_job_tmpdir(state, "", "n1", "/x"));
    EXPECT_FALSE(record_job_tmpdir(state, "42", "n1", ""));
    EXPECT_FALSE(record_job_tmpdir(state, "42", "n1", std::string(5000, 'a')));
    // A record that is not an absolute path (written by someone else) is not trusted.
    ASSERT_TRUE(record_job_tmpdir(state, "7", "n1", "/ok"));
    std::ofstream(state + "/job_8_n1") << "relative/path";
    EXPECT_FALSE(read_recorded_tmpdir(state, "8", "n1"));
    // Others must not be able to write records.
    ASSERT_EQ(::chmod(state.c_str(), 0777), 0);
    EXPECT_FALSE(record_job_tmpdir(state, "9", "n1", "/x"));
    EXPECT_FALSE(read_recorded_tmpdir(state, "7", "n1"));
}
