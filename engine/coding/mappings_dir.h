// Where the mappings/ folder (code sets, abbreviations, crosswalks) is found.
#pragma once

#include <string>

namespace courier::coding {

// $COURIER_MAPPINGS_DIR when set, else the mappings/ of the source tree this
// was built from (a development default; deployments set the variable or pass
// --mappings on the command line).
std::string defaultMappingsDir();

}  // namespace courier::coding
