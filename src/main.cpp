// pgolf entry point: everything lives in the cli component.
#include "pgolf/cli/app.h"

int main(int argc, char** argv) { return pgolf::cli::run(argc, argv); }
