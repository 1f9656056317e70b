// The sink's "timestamp,data" form of a records-mode file, from the rebuilt file and the manifest's timestamp runs.
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "../../sink/timestamp_data.hpp"
#include "unique_fd.hpp"

using namespace ks;

namespace {

UniqueFd memfile(std::string_view content) {
    UniqueFd fd(::memfd_create("tsdata-test", MFD_CLOEXEC));
    EXPECT_TRUE(fd);
    EXPECT_EQ(::write(fd.get(), content.data(), content.size()), static_cast<ssize_t>(content.size()));
    return fd;
}

std::string render(std::string_view content, const sink::TimestampRuns& runs) {
    auto src = memfile(content);
    auto out = memfile("");
    auto ok = sink::write_timestamp_data(src.get(), content.size(), runs, out.get());
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
    std::string back(static_cast<std::size_t>(::lseek(out.get(), 0, SEEK_END)), '\0');
    EXPECT_EQ(::pread(out.get(), back.data(), back.size(), 0), static_cast<ssize_t>(back.size()));
    return back;
}

}  // namespace

TEST(SinkTimestampData, EachLineGetsTheTimestampOfItsRun) {
    // Lines start at 0, 4, 9, 10, 12; the second run starts at the third line.
    EXPECT_EQ(render("a,b\nc,d\r\n\ne\n\rx\r\n", {{0, "1.5"}, {9, "2.25"}}),
              "1.5,a,b\n1.5,c,d\n2.25,\n2.25,e\n2.25,\rx\n");
}

TEST(SinkTimestampData, LastLineWithoutEnding) {
    EXPECT_EQ(render("one\ntwo", {{0, "7.000001"}}), "7.000001,one\n7.000001,two\n");
}

TEST(SinkTimestampData, LinesLongerThanTheReadBlock) {
    std::string big(3 * 1024 * 1024 + 17, 'x');
    std::string content = "short\n" + big + "\nend\n";
    std::string expected = "1,short\n2," + big + "\n2,end\n";
    EXPECT_EQ(render(content, {{0, "1"}, {6, "2"}}), expected);
}

TEST(SinkTimestampData, ShorterFileThanDeclaredIsAnError) {
    auto src = memfile("abc\n");
    auto out = memfile("");
    EXPECT_FALSE(sink::write_timestamp_data(src.get(), 10, {{0, "1"}}, out.get()));
}
