/*
 * Staging rows into SQLite through the connection the sqlite3 module opened: the bulk writer's
 * multi-row INSERT statements, with each row's values bound straight from the row tuples.
 *
 * The sqlite3 module binds every value through its adaptation protocol (a registry look-up for each
 * None) and needs the rows flattened into one parameter list per statement; for the 14 million
 * values of a 100 000-worker set that is most of the writer's own time. Here the values of exact
 * types (None, int, float, str) are bound directly, a statement is prepared once per writer, and the
 * GIL is released while SQLite runs each statement, as the sqlite3 module does.
 *
 * bulk.py is the reference: it uses this module only after a self-check (same SQLite library as the
 * sqlite3 module, the connection's handle where CPython 3.11-3.13 keep it, the same rows stored for a
 * sample as the sqlite3 module stores), never when CBSS_PURE_PYTHON is set, and a row holding a value
 * of any other type is left to the sqlite3 module (insert() returns how many rows it wrote).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <sqlite3.h>

typedef struct {  /* the head of CPython's pysqlite_Connection (Modules/_sqlite/connection.h, 3.11-3.13) */
    PyObject_HEAD
    sqlite3 *db;
} connection_head;

static PyTypeObject *connection_type;
static PyObject *integrity_error, *operational_error, *data_error;

static const char STATEMENT[] = "cbss_batch.store._sqlite_rows.statement";

static sqlite3 *handle_of(PyObject *conn)
{
    if (connection_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_sqlite_rows is not configured");
        return NULL;
    }
    if (Py_TYPE(conn) != connection_type) {
        PyErr_Format(PyExc_TypeError, "expected a sqlite3.Connection, not %.100s", Py_TYPE(conn)->tp_name);
        return NULL;
    }
    sqlite3 *db = ((connection_head *)conn)->db;
    if (db == NULL) {
        PyErr_SetString(PyExc_ValueError, "the SQLite connection is closed");
        return NULL;
    }
    return db;
}

static void raise_sqlite(sqlite3 *db, int rc)
{
    PyObject *type;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
        type = integrity_error;
        break;
    case SQLITE_TOOBIG:
        type = data_error;
        break;
    case SQLITE_NOMEM:
        PyErr_NoMemory();
        return;
    default:
        type = operational_error;
    }
    PyErr_SetString(type, sqlite3_errmsg(db));
}

static void finalize_statement(PyObject *capsule)
{
    sqlite3_stmt *stmt = PyCapsule_GetPointer(capsule, STATEMENT);
    PyObject *conn = PyCapsule_GetContext(capsule);
    if (stmt != NULL)
        sqlite3_finalize(stmt);  /* after close_v2 too: SQLite frees a closed connection with its last statement */
    Py_XDECREF(conn);
}

/* configure(sqlite3.Connection, IntegrityError, OperationalError, DataError) */
static PyObject *configure(PyObject *self, PyObject *args)
{
    PyObject *type, *integrity, *operational, *data;
    if (!PyArg_ParseTuple(args, "O!OOO:configure", &PyType_Type, &type, &integrity, &operational, &data))
        return NULL;
    Py_INCREF(type);
    Py_INCREF(integrity);
    Py_INCREF(operational);
    Py_INCREF(data);
    Py_XSETREF(connection_type, (PyTypeObject *)type);
    Py_XSETREF(integrity_error, integrity);
    Py_XSETREF(operational_error, operational);
    Py_XSETREF(data_error, data);
    Py_RETURN_NONE;
}

/* memory_used(): bytes this SQLite library has allocated (the sqlite3 module's, when they share it) */
static PyObject *memory_used(PyObject *self, PyObject *unused)
{
    return PyLong_FromLongLong(sqlite3_memory_used());
}

/* prepare(connection, sql) -> statement (finalized when the object goes) */
static PyObject *prepare(PyObject *self, PyObject *args)
{
    PyObject *conn;
    const char *sql;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "Os#:prepare", &conn, &sql, &size))
        return NULL;
    sqlite3 *db = handle_of(conn);
    if (db == NULL)
        return NULL;
    if (size > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "statement too long");
        return NULL;
    }
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(db, sql, (int)size, &stmt, &tail);
    if (rc != SQLITE_OK) {
        raise_sqlite(db, rc);
        return NULL;
    }
    if (stmt == NULL || (tail != NULL && *tail != '\0')) {
        sqlite3_finalize(stmt);
        PyErr_SetString(PyExc_ValueError, "expected exactly one statement");
        return NULL;
    }
    PyObject *capsule = PyCapsule_New(stmt, STATEMENT, finalize_statement);
    if (capsule == NULL) {
        sqlite3_finalize(stmt);
        return NULL;
    }
    Py_INCREF(conn);
    if (PyCapsule_SetContext(capsule, conn) != 0) {
        Py_DECREF(conn);
        Py_DECREF(capsule);
        return NULL;
    }
    return capsule;
}

/* Bind one value: 1 bound, 0 a type left to the sqlite3 module, -1 error. */
static int bind(sqlite3 *db, sqlite3_stmt *stmt, int i, PyObject *value)
{
    int rc;
    if (value == Py_None) {
        rc = sqlite3_bind_null(stmt, i);
    } else if (PyLong_CheckExact(value)) {
        int overflow = 0;
        long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow) {
            PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to SQLite INTEGER");
            return -1;
        }
        if (n == -1 && PyErr_Occurred())
            return -1;
        rc = sqlite3_bind_int64(stmt, i, n);
    } else if (PyUnicode_CheckExact(value)) {
        Py_ssize_t size;
        const char *text = PyUnicode_AsUTF8AndSize(value, &size);
        if (text == NULL)
            return -1;
        if (size > INT_MAX)
            return 0;
        /* SQLITE_STATIC: the row tuples, and so the strings' UTF-8, outlive the statement's step */
        rc = sqlite3_bind_text(stmt, i, text, (int)size, SQLITE_STATIC);
    } else if (PyFloat_CheckExact(value)) {
        rc = sqlite3_bind_double(stmt, i, PyFloat_AS_DOUBLE(value));
    } else {
        return 0;
    }
    if (rc != SQLITE_OK) {
        raise_sqlite(db, rc);
        return -1;
    }
    return 1;
}

/* insert(connection, statement, rows, per, width) -> rows written
 *
 * Runs the statement (``per`` rows of ``width`` values) for rows[0:per], rows[per:2 per], ... while
 * whole groups remain; stops before a group holding a value of another type, or a row that is not a
 * tuple of ``width`` values, and returns the number of rows written (a multiple of ``per``).
 */
static PyObject *insert(PyObject *self, PyObject *args)
{
    PyObject *conn, *capsule, *rows;
    Py_ssize_t per, width;
    if (!PyArg_ParseTuple(args, "OOO!nn:insert", &conn, &capsule, &PyList_Type, &rows, &per, &width))
        return NULL;
    sqlite3 *db = handle_of(conn);
    if (db == NULL)
        return NULL;
    sqlite3_stmt *stmt = PyCapsule_GetPointer(capsule, STATEMENT);
    if (stmt == NULL)
        return NULL;
    if (sqlite3_db_handle(stmt) != db) {
        PyErr_SetString(PyExc_ValueError, "the statement was prepared on another connection");
        return NULL;
    }
    if (per <= 0 || width <= 0 || per * width != sqlite3_bind_parameter_count(stmt)) {
        PyErr_SetString(PyExc_ValueError, "the statement does not take per x width values");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(rows), done = 0;
    while (done + per <= count) {
        int index = 1, bound = 1;
        for (Py_ssize_t r = done; r < done + per && bound == 1; r++) {
            PyObject *row = PyList_GET_ITEM(rows, r);
            if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) != width) {
                bound = 0;
                break;
            }
            for (Py_ssize_t c = 0; c < width; c++) {
                bound = bind(db, stmt, index++, PyTuple_GET_ITEM(row, c));
                if (bound != 1)
                    break;
            }
        }
        if (bound != 1) {
            sqlite3_clear_bindings(stmt);
            if (bound < 0)
                return NULL;
            break;
        }
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = sqlite3_step(stmt);
        Py_END_ALLOW_THREADS
        if (rc != SQLITE_DONE) {
            if (rc == SQLITE_ROW)
                rc = SQLITE_MISUSE;
            raise_sqlite(db, rc);
            sqlite3_reset(stmt);
            sqlite3_clear_bindings(stmt);
            return NULL;
        }
        sqlite3_reset(stmt);
        done += per;
    }
    sqlite3_clear_bindings(stmt);  /* no pointer into the rows' strings is kept */
    return PyLong_FromSsize_t(done);
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, "configure(connection type, IntegrityError, OperationalError, DataError)"},
    {"memory_used", memory_used, METH_NOARGS, "bytes allocated by this SQLite library"},
    {"prepare", prepare, METH_VARARGS, "prepare(connection, sql) -> statement"},
    {"insert", insert, METH_VARARGS, "insert(connection, statement, rows, per, width) -> rows written"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sqlite_rows", NULL, -1, methods};

PyMODINIT_FUNC PyInit__sqlite_rows(void)
{
    return PyModule_Create(&module);
}
