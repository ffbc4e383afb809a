#!/usr/bin/env python3
"""Tests of tools/check_sizes.py's function finder and limits on small
sources written here (python3 -m unittest, or run directly; CTest:
size_limits_selftest)."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_sizes  # noqa: E402


def body(n):
    """n lines of statements."""
    return "".join(f"  x += {i};\n" for i in range(n))


def functions(src):
    code = check_sizes.strip_code(src)
    newlines = check_sizes.line_starts(code)
    return [(name, check_sizes.line_of(newlines, s), check_sizes.line_of(newlines, e) -
             check_sizes.line_of(newlines, s) + 1) for s, e, name in check_sizes.find_functions(code)]


class FindFunctions(unittest.TestCase):
    def test_free_function_member_and_constructor(self):
        src = ("namespace fedrad {\n"                       # 1
               "absl::Status Foo(int a,\n"                  # 2
               "                 int b) {\n"                # 3
               + body(3) +                                  # 4-6
               "}\n"                                        # 7
               "class Bar {\n"                              # 8
               " public:\n"                                 # 9
               "  Bar(int a) : a_(a), b_{a} {}\n"           # 10
               "  int Get() const override { return a_; }\n"  # 11
               " private:\n"
               "  int a_ = 0;\n"
               "  int b_{1};\n"
               "};\n"
               "}  // namespace fedrad\n")
        self.assertEqual(functions(src), [("Foo", 2, 6), ("Bar", 10, 1), ("Get", 11, 1)])

    def test_braces_in_comments_strings_and_initialisers_are_not_functions(self):
        src = ('const char* kCss = "a { b }";  // f() {\n'
               "/* g() { */\n"
               "const int kTable[] = {1, 2, 3};\n"
               'const char* kRaw = R"(h() { )";\n'
               "struct Opts { int k = 10; };\n"
               "int Main() {\n"
               "  if (x) { y(); }\n"
               "  auto f = [](int v) { return v; };\n"
               "  return 0;\n"
               "}\n")
        self.assertEqual(functions(src), [("Main", 6, 5)])

    def test_test_macros_are_named_by_their_arguments(self):
        src = "TEST_F(Suite, DoesThing) {\n" + body(2) + "}\n"
        self.assertEqual(functions(src), [("TEST_F(Suite, DoesThing)", 1, 4)])


class Limits(unittest.TestCase):
    def run_on(self, files):
        with tempfile.TemporaryDirectory() as root:
            for rel, text in files.items():
                os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
                with open(os.path.join(root, rel), "w") as f:
                    f.write(text)
            with open(os.devnull, "w") as devnull:
                old, sys.stdout = sys.stdout, devnull
                try:
                    return check_sizes.main(["--root", root, "--max-file-lines", "20",
                                             "--max-function-lines", "5"])
                finally:
                    sys.stdout = old

    def test_within_limits_passes(self):
        self.assertEqual(self.run_on({"core/a.cc": "int F() {\n" + body(3) + "}\n"}), 0)

    def test_long_function_in_a_held_folder_fails(self):
        self.assertEqual(self.run_on({"core/a.cc": "int F() {\n" + body(4) + "}\n"}), 1)

    def test_long_file_in_a_held_folder_fails(self):
        self.assertEqual(self.run_on({"report/a.h": "// x\n" * 21}), 1)

    def test_the_rest_of_the_tree_is_reported_not_enforced(self):
        self.assertEqual(self.run_on({"models/a.cc": "int F() {\n" + body(40) + "}\n"}), 0)


if __name__ == "__main__":
    unittest.main()
