# Needs the autoloaded packages (SmallGrp, TransGrp, PrimGrp).
SmallGroup(8, 3);
IdGroup(DihedralGroup(8));
NrSmallGroups(64);
NrTransitiveGroups(6);
NrPrimitiveGroups(10);
