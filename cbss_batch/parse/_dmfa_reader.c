/*
 * The DmfA person reader of cbss_batch.parse.dmfa, in C: the same records from the same lxml element,
 * read straight from the element's libxml2 nodes instead of through one Python proxy per child.
 *
 * The pure-Python readers in dmfa.py are the reference: this module must give equal records and raise
 * the same exception types for the same element (tests/unit/test_dmfa_reader.py compares them on
 * generated persons and on a large file). dmfa.py uses it only after a self-check on a sample
 * document, and never when CBSS_PURE_PYTHON is set.
 *
 * It reads only the fields of libxml2's xmlNode and xmlNs that have kept their place since libxml2
 * 2.0, and the node pointer of lxml's public element struct (etree.h); every element it is given is
 * checked to be an lxml element whose node points back to it (lxml keeps its proxy in _private), so
 * a different layout fails the check instead of reading wrong memory.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* libxml2's node types (tree.h) */
enum { ELEMENT_NODE = 1, TEXT_NODE = 3, CDATA_NODE = 4, COMMENT_NODE = 8, PI_NODE = 7,
       XINCLUDE_START = 19, XINCLUDE_END = 20 };

typedef struct xns {
    struct xns *next;
    int type;
    const unsigned char *href;
} xns;

typedef struct xnode {
    void *_private;
    int type;
    const unsigned char *name;
    struct xnode *children, *last, *parent, *next, *prev;
    void *doc;
    xns *ns;
    unsigned char *content;
    void *properties, *nsDef, *psvi;
    unsigned short line, extra;
} xnode;

typedef struct {  /* lxml's struct LxmlElement (etree.h) */
    PyObject_HEAD
    PyObject *_doc;
    xnode *_c_node;
    PyObject *_tag;
} lxml_element;

/* What dmfa.py hands over in configure(): the record classes, the date conversion, date.min, lxml's
   element type. */
enum { NATURAL_PERSON, WORKER_RECORD, OCCUPATION, SERVICE, REMUNERATION, CONTRIBUTION, DEDUCTION, N_CLASSES };
static PyTypeObject *classes[N_CLASSES];
static PyObject *dates;          /* text -> date, raising what date.fromisoformat raises */
static PyObject *date_min;
static PyTypeObject *element_type;
static PyObject *kind_worker, *kind_student, *empty;

/* ---- nodes ---- */

static int plain(const xnode *n, const char *name)
{
    /* the element (one element_child accepted) is named name */
    return strcmp((const char *)n->name, name) == 0;
}

static const xnode *text_or_skip(const xnode *n)
{
    /* lxml's _textNodeOrSkip: the next text node, passing XInclude markers, stopping at anything else */
    while (n != NULL) {
        if (n->type == TEXT_NODE || n->type == CDATA_NODE)
            return n;
        if (n->type != XINCLUDE_START && n->type != XINCLUDE_END)
            return NULL;
        n = n->next;
    }
    return NULL;
}

static PyObject *text_of(const xnode *el)
{
    /* lxml's element.text (_collectText): None without text node, '' when they are all empty */
    const xnode *first = text_or_skip(el->children), *n;
    const char *found = NULL;
    Py_ssize_t count = 0;
    for (n = first; n != NULL; n = text_or_skip(n->next)) {
        if (n->content != NULL && n->content[0] != '\0')
            found = (const char *)n->content;
        count++;
    }
    if (found == NULL) {
        if (count == 0)
            Py_RETURN_NONE;
        return Py_NewRef(empty);
    }
    if (count == 1)
        return PyUnicode_DecodeUTF8(found, (Py_ssize_t)strlen(found), NULL);
    PyObject *joined = PyBytes_FromStringAndSize(NULL, 0);
    for (n = first; n != NULL && joined != NULL; n = text_or_skip(n->next)) {
        if (n->content != NULL)
            PyBytes_ConcatAndDel(&joined, PyBytes_FromString((const char *)n->content));
    }
    if (joined == NULL)
        return NULL;
    PyObject *text = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(joined), PyBytes_GET_SIZE(joined), NULL);
    Py_DECREF(joined);
    return text;
}

static const char *single_text(const xnode *el)
{
    /* the content of the element's only text node, when it has exactly one; NULL otherwise */
    const xnode *first = text_or_skip(el->children);
    if (first == NULL || first->content == NULL || text_or_skip(first->next) != NULL)
        return NULL;
    return (const char *)first->content;
}

static int has_text(const xnode *el)
{
    /* Python's truth of element.text: some text node is not empty */
    for (const xnode *n = text_or_skip(el->children); n != NULL; n = text_or_skip(n->next))
        if (n->content != NULL && n->content[0] != '\0')
            return 1;
    return 0;
}

static PyObject *int_of(const xnode *el)
{
    /* int(element.text): plain digits read here, anything else (signs, spaces, None) by int() itself */
    const char *s = single_text(el);
    if (s != NULL) {
        long long value = 0;
        size_t i = 0;
        for (; s[i] >= '0' && s[i] <= '9' && i < 18; i++)
            value = value * 10 + (s[i] - '0');
        if (i > 0 && s[i] == '\0')
            return PyLong_FromLongLong(value);
    }
    PyObject *text = text_of(el);
    if (text == NULL)
        return NULL;
    PyObject *value = PyNumber_Long(text);
    Py_DECREF(text);
    return value;
}

static PyObject *int_or(const xnode *el, PyObject *absent)
{
    /* ``int(text) if text else absent`` */
    return has_text(el) ? int_of(el) : Py_NewRef(absent);
}

static PyObject *text_or_empty(const xnode *el)
{
    /* ``element.text or ""`` */
    return has_text(el) ? text_of(el) : Py_NewRef(empty);
}

static PyObject *date_or(const xnode *el, PyObject *absent)
{
    /* ``dates[text] if text else absent`` */
    if (!has_text(el))
        return Py_NewRef(absent);
    PyObject *text = text_of(el);
    if (text == NULL)
        return NULL;
    PyObject *day = PyObject_GetItem(dates, text);
    Py_DECREF(text);
    return day;
}

static long line_of(const xnode *n, int depth)
{
    /* libxml2's xmlGetLineNo: a line above 65534 is kept in a text node's psvi (XML_PARSE_BIG_LINES) */
    long result = -1;
    if (depth >= 5 || n == NULL)
        return -1;
    if (n->type == ELEMENT_NODE || n->type == TEXT_NODE || n->type == COMMENT_NODE || n->type == PI_NODE) {
        if (n->line == 65535) {
            if (n->type == TEXT_NODE && n->psvi != NULL)
                result = (long)(intptr_t)n->psvi;
            else if (n->type == ELEMENT_NODE && n->children != NULL)
                result = line_of(n->children, depth + 1);
            else if (n->next != NULL)
                result = line_of(n->next, depth + 1);
            else if (n->prev != NULL)
                result = line_of(n->prev, depth + 1);
        }
        if (result == -1 || result == 65535)
            result = (long)n->line;
    } else if (n->prev != NULL && (n->prev->type == ELEMENT_NODE || n->prev->type == TEXT_NODE
                                   || n->prev->type == COMMENT_NODE || n->prev->type == PI_NODE)) {
        result = line_of(n->prev, depth + 1);
    } else if (n->parent != NULL && n->parent->type == ELEMENT_NODE) {
        result = line_of(n->parent, depth + 1);
    }
    return result;
}

static PyObject *sourceline(const xnode *n)
{
    /* ``element.sourceline or 0`` */
    long line = line_of(n, 0);
    return PyLong_FromLong(line > 0 ? line : 0);
}

/* ---- records ---- */

static int put(PyObject **slot, PyObject *value)
{
    /* replace a field read earlier (the last occurrence of a zone wins, as in the Python readers);
       false when the value could not be made (the exception is set) */
    Py_XSETREF(*slot, value);
    return value != NULL;
}

static PyObject *int_or_zero(const xnode *el)
{
    /* ``int(text) if text else 0`` */
    return has_text(el) ? int_of(el) : PyLong_FromLong(0);
}

static PyObject *record(int cls, PyObject **items, Py_ssize_t n, int ok)
{
    /* tuple.__new__(cls, items) when ok; steals the items in every case */
    PyObject *self = NULL;
    for (Py_ssize_t i = 0; i < n && ok; i++)
        ok = items[i] != NULL;
    if (ok) {
        PyTypeObject *type = classes[cls];
        self = type->tp_alloc(type, n);
    }
    if (self == NULL) {
        for (Py_ssize_t i = 0; i < n; i++)
            Py_XDECREF(items[i]);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        PyTuple_SET_ITEM(self, i, items[i]);
    return self;
}

static int append(PyObject *list, PyObject *item)
{
    /* list.append(item), releasing item; false on failure */
    if (item == NULL)
        return 0;
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed == 0;
}

static int to_tuples(PyObject **lists, int n, int ok)
{
    /* tuple(list) in place for each list (the lists are released; NULL left behind when not ok) */
    for (int i = 0; i < n; i++) {
        PyObject *list = lists[i];
        lists[i] = ok && list != NULL ? PyList_AsTuple(list) : NULL;
        Py_XDECREF(list);
        ok = ok && lists[i] != NULL;
    }
    return ok;
}

static int element_child(const xnode *z)
{
    /* an element the readers may know: no text, comment or processing instruction, no namespace */
    return z->type == ELEMENT_NODE && (z->ns == NULL || z->ns->href == NULL);
}

/* A leaf block (deduction, contribution, remuneration, service): fields read from named zones, each
   zone converted as the Python reader converts it, and the block's line in field ``line``. */
enum { AS_INT, AS_TEXT, AS_TEXT_OR_EMPTY };
typedef struct { const char *name; int field; int as; } zone_rule;

static PyObject *read_leaf(const xnode *el, int cls, PyObject **f, Py_ssize_t n, Py_ssize_t line,
                           const zone_rule *rules)
{
    /* f holds the defaults of every field but the line (any of them NULL when it could not be made) */
    int ok = 1;
    for (Py_ssize_t i = 0; i < n && ok; i++)
        ok = i == line || f[i] != NULL;
    for (const xnode *z = el->children; z != NULL && ok; z = z->next) {
        if (!element_child(z))
            continue;
        for (const zone_rule *rule = rules; rule->name != NULL; rule++) {
            if (plain(z, rule->name)) {
                ok = put(&f[rule->field], rule->as == AS_INT ? int_of(z)
                                          : rule->as == AS_TEXT ? text_of(z) : text_or_empty(z));
                break;
            }
        }
    }
    if (ok)
        f[line] = sourceline(el);
    return record(cls, f, n, ok);
}

static const zone_rule DEDUCTION_ZONES[] = {
    {"DeductionCode", 0, AS_TEXT_OR_EMPTY}, {"DeductionAmount", 2, AS_INT},
    {"DeductionCalculationBasis", 1, AS_INT}, {NULL, 0, 0}};

static PyObject *read_deduction(const xnode *el)
{
    /* code, basis, amount, line */
    PyObject *f[4] = {Py_NewRef(empty), Py_NewRef(Py_None), Py_NewRef(Py_None), NULL};
    return read_leaf(el, DEDUCTION, f, 4, 3, DEDUCTION_ZONES);
}

static const zone_rule STUDENT_ZONES[] = {
    {"StudentContributionAmount", 3, AS_INT}, {"StudentRemunAmount", 2, AS_INT}, {NULL, 0, 0}};

static const zone_rule CONTRIBUTION_ZONES[] = {
    {"ContributionAmount", 3, AS_INT}, {"ContributionWorkerCode", 0, AS_TEXT_OR_EMPTY},
    {"ContributionType", 1, AS_TEXT}, {"ContributionCalculationBasis", 2, AS_INT}, {NULL, 0, 0}};

static PyObject *read_contribution(const xnode *el, PyObject *kind, const zone_rule *zones)
{
    /* code, type, basis, amount, line, kind ("worker", or "student" with code "" and type None) */
    PyObject *f[6] = {Py_NewRef(empty), Py_NewRef(Py_None), Py_NewRef(Py_None), PyLong_FromLong(0), NULL,
                      Py_NewRef(kind)};
    return read_leaf(el, CONTRIBUTION, f, 6, 4, zones);
}

static const zone_rule REMUNERATION_ZONES[] = {
    {"RemunAmount", 2, AS_INT}, {"RemunCode", 1, AS_TEXT_OR_EMPTY}, {"RemunSequenceNbr", 0, AS_INT},
    {"BonusPaymentFrequency", 3, AS_INT}, {"PercentagePaid", 4, AS_INT}, {NULL, 0, 0}};

static PyObject *read_remuneration(const xnode *el)
{
    /* sequence, code, amount, bonus frequency, percentage paid, line */
    PyObject *f[6] = {PyLong_FromLong(0), Py_NewRef(empty), PyLong_FromLong(0), Py_NewRef(Py_None),
                      Py_NewRef(Py_None), NULL};
    return read_leaf(el, REMUNERATION, f, 6, 5, REMUNERATION_ZONES);
}

static const zone_rule SERVICE_ZONES[] = {
    {"ServiceCode", 1, AS_TEXT_OR_EMPTY}, {"ServiceNbrDays", 2, AS_INT}, {"ServiceNbrHours", 3, AS_INT},
    {"ServiceSequenceNbr", 0, AS_INT}, {NULL, 0, 0}};

static PyObject *read_service(const xnode *el)
{
    /* sequence, code, days, hours, line */
    PyObject *f[5] = {PyLong_FromLong(0), Py_NewRef(empty), PyLong_FromLong(0), Py_NewRef(Py_None), NULL};
    return read_leaf(el, SERVICE, f, 5, 4, SERVICE_ZONES);
}

static PyObject *read_occupation(const xnode *el)
{
    /* sequence, start, end, committee, working days, contract, ref hours, hours, local unit, line,
       services, remunerations, deductions; dates and hours converted at the end, as in Python */
    PyObject *f[13] = {PyLong_FromLong(0), NULL, NULL, Py_NewRef(empty), PyLong_FromLong(0), PyLong_FromLong(0),
                       NULL, NULL, Py_NewRef(Py_None), NULL, PyList_New(0), PyList_New(0), PyList_New(0)};
    const xnode *start = NULL, *end = NULL, *ref_hours = NULL, *hours = NULL;
    int ok = f[0] && f[4] && f[5] && f[10] && f[11] && f[12];
    for (const xnode *z = el->children; z != NULL && ok; z = z->next) {
        if (!element_child(z))
            continue;
        if (plain(z, "Remun"))
            ok = append(f[11], read_remuneration(z));
        else if (plain(z, "Service"))
            ok = append(f[10], read_service(z));
        else if (plain(z, "OccupationDeduction"))
            ok = append(f[12], read_deduction(z));
        else if (plain(z, "OccupationSequenceNbr"))
            ok = put(&f[0], int_of(z));
        else if (plain(z, "OccupationStartingDate"))
            start = z;
        else if (plain(z, "OccupationEndingDate"))
            end = z;
        else if (plain(z, "JointCommissionNbr"))
            ok = put(&f[3], text_or_empty(z));
        else if (plain(z, "WorkingDaysSystem"))
            ok = put(&f[4], int_or_zero(z));
        else if (plain(z, "ContractType"))
            ok = put(&f[5], int_or_zero(z));
        else if (plain(z, "RefMeanWorkingHours"))
            ref_hours = z;
        else if (plain(z, "MeanWorkingHours"))
            hours = z;
        else if (plain(z, "LocalUnitID"))
            ok = put(&f[8], text_of(z));
    }
    ok = ok && put(&f[1], start ? date_or(start, Py_None) : Py_NewRef(Py_None));
    ok = ok && put(&f[2], end ? date_or(end, Py_None) : Py_NewRef(Py_None));
    ok = ok && put(&f[6], ref_hours ? int_or(ref_hours, Py_None) : Py_NewRef(Py_None));
    ok = ok && put(&f[7], hours ? int_or(hours, Py_None) : Py_NewRef(Py_None));
    ok = ok && put(&f[9], sourceline(el));
    ok = to_tuples(&f[10], 3, ok);
    return record(OCCUPATION, f, 13, ok);
}

static PyObject *read_worker_record(const xnode *el)
{
    /* employer class, worker code, quarter start, quarter end, border, activity with risk, local unit,
       line, occupations, contributions, deductions */
    PyObject *f[11] = {Py_NewRef(empty), Py_NewRef(empty), NULL, NULL, PyLong_FromLong(0), Py_NewRef(Py_None),
                       Py_NewRef(Py_None), NULL, PyList_New(0), PyList_New(0), PyList_New(0)};
    const xnode *start = NULL, *end = NULL;
    int ok = f[4] && f[8] && f[9] && f[10];
    for (const xnode *z = el->children; z != NULL && ok; z = z->next) {
        if (!element_child(z))
            continue;
        if (plain(z, "WorkerContribution"))
            ok = append(f[9], read_contribution(z, kind_worker, CONTRIBUTION_ZONES));
        else if (plain(z, "Occupation") || plain(z, "OccupationUpdate"))
            ok = append(f[8], read_occupation(z));
        else if (plain(z, "WorkerDeduction"))
            ok = append(f[10], read_deduction(z));
        else if (plain(z, "StudentContribution"))
            ok = append(f[9], read_contribution(z, kind_student, STUDENT_ZONES));
        else if (plain(z, "EmployerClass"))
            ok = put(&f[0], text_or_empty(z));
        else if (plain(z, "WorkerCode"))
            ok = put(&f[1], text_or_empty(z));
        else if (plain(z, "NOSSQuarterStartingDate"))
            start = z;
        else if (plain(z, "NOSSQuarterEndingDate"))
            end = z;
        else if (plain(z, "Border"))
            ok = put(&f[4], int_or_zero(z));
        else if (plain(z, "ActivityWithRisk"))
            ok = put(&f[5], int_or(z, Py_None));
        else if (plain(z, "LocalUnitID"))
            ok = put(&f[6], text_of(z));
    }
    ok = ok && put(&f[2], start ? date_or(start, date_min) : Py_NewRef(date_min));
    ok = ok && put(&f[3], end ? date_or(end, date_min) : Py_NewRef(date_min));
    ok = ok && put(&f[7], sourceline(el));
    ok = to_tuples(&f[8], 3, ok);
    return record(WORKER_RECORD, f, 11, ok);
}

static PyObject *strip(PyObject *text)
{
    /* ``(text or "").strip()``, releasing text */
    if (text == NULL)
        return NULL;
    if (text == Py_None) {
        Py_DECREF(text);
        return Py_NewRef(empty);
    }
    PyObject *stripped = PyObject_CallMethod(text, "strip", NULL);
    Py_DECREF(text);
    return stripped;
}

static const xnode *node_of(PyObject *element)
{
    if (element_type == NULL || classes[NATURAL_PERSON] == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_dmfa_reader.configure() was not called");
        return NULL;
    }
    if (!PyObject_TypeCheck(element, element_type)) {
        PyErr_Format(PyExc_TypeError, "an lxml element is expected, not %.100s", Py_TYPE(element)->tp_name);
        return NULL;
    }
    const xnode *node = ((lxml_element *)element)->_c_node;
    if (node == NULL || node->_private != (void *)element || node->type != ELEMENT_NODE) {
        PyErr_SetString(PyExc_RuntimeError, "this lxml element does not have the layout _dmfa_reader reads");
        return NULL;
    }
    return node;
}

static PyObject *read_person(PyObject *module, PyObject *element)
{
    /* sequence, INSZ, name, first name, line, worker records */
    const xnode *el = node_of(element);
    if (el == NULL)
        return NULL;
    PyObject *f[6] = {PyLong_FromLong(0), Py_NewRef(empty), Py_NewRef(Py_None), Py_NewRef(Py_None), NULL,
                      PyList_New(0)};
    int ok = f[0] && f[5];
    for (const xnode *z = el->children; z != NULL && ok; z = z->next) {
        if (!element_child(z))
            continue;
        if (plain(z, "WorkerRecord"))
            ok = append(f[5], read_worker_record(z));
        else if (plain(z, "INSS"))
            ok = put(&f[1], strip(text_of(z)));
        else if (plain(z, "NaturalPersonSequenceNbr"))
            ok = put(&f[0], int_of(z));
        else if (plain(z, "WorkerName"))
            ok = put(&f[2], text_of(z));
        else if (plain(z, "WorkerFirstName"))
            ok = put(&f[3], text_of(z));
    }
    ok = ok && put(&f[4], sourceline(el));
    ok = to_tuples(&f[5], 1, ok);
    return record(NATURAL_PERSON, f, 6, ok);
}

static PyObject *line_number(PyObject *module, PyObject *element)
{
    /* ``element.sourceline or 0`` as this module computes it (for the tests) */
    const xnode *el = node_of(element);
    return el == NULL ? NULL : sourceline(el);
}

static int usable_class(PyObject *cls)
{
    /* a tuple subclass adding no field of its own (a NamedTuple): filled in place like a tuple */
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &PyTuple_Type))
        return 0;
    PyTypeObject *type = (PyTypeObject *)cls;
    return type->tp_basicsize == PyTuple_Type.tp_basicsize && type->tp_itemsize == PyTuple_Type.tp_itemsize
        && type->tp_dictoffset == 0;
}

static PyObject *configure(PyObject *module, PyObject *args)
{
    PyObject *cls[N_CLASSES], *new_dates, *new_min, *new_element;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOO:configure", &cls[NATURAL_PERSON], &cls[WORKER_RECORD],
                          &cls[OCCUPATION], &cls[SERVICE], &cls[REMUNERATION], &cls[CONTRIBUTION],
                          &cls[DEDUCTION], &new_dates, &new_min, &new_element))
        return NULL;
    for (int i = 0; i < N_CLASSES; i++) {
        if (!usable_class(cls[i])) {
            PyErr_Format(PyExc_TypeError, "record class %d is not a plain tuple subclass", i);
            return NULL;
        }
    }
    if (!PyType_Check(new_element)) {
        PyErr_SetString(PyExc_TypeError, "the lxml element type is expected");
        return NULL;
    }
    for (int i = 0; i < N_CLASSES; i++)
        Py_XSETREF(classes[i], (PyTypeObject *)Py_NewRef(cls[i]));
    Py_XSETREF(dates, Py_NewRef(new_dates));
    Py_XSETREF(date_min, Py_NewRef(new_min));
    Py_XSETREF(element_type, (PyTypeObject *)Py_NewRef(new_element));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(NaturalPerson, WorkerRecord, Occupation, Service, Remuneration, Contribution, Deduction, "
     "dates, date_min, element_type): the classes and conversions the records are built with"},
    {"read_person", read_person, METH_O, "read_person(element) -> NaturalPerson, as dmfa._read_person"},
    {"line_number", line_number, METH_O, "line_number(element) -> element.sourceline or 0"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_dmfa_reader", "The DmfA person reader in C (see cbss_batch.parse.dmfa).", -1, methods,
};

PyMODINIT_FUNC PyInit__dmfa_reader(void)
{
    kind_worker = PyUnicode_InternFromString("worker");
    kind_student = PyUnicode_InternFromString("student");
    empty = PyUnicode_FromStringAndSize("", 0);
    if (kind_worker == NULL || kind_student == NULL || empty == NULL)
        return NULL;
    return PyModule_Create(&module_def);
}
